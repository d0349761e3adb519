import { h } from "./dom";
import { Health } from "./api";
import { percent, rate } from "./format";

export const STATUSES = ["Failure", "Degraded", "Not Ready", "Healthy", "NA"];

export function statusBadge(status: string, text?: string): HTMLElement {
  return h("span", { class: `badge ${status.replace(/\s/g, "")}`, title: status }, text ?? status);
}

/** Why an object has its health status: replicas and request error ratio, in words. */
export function explain(hl: Health | undefined): HTMLElement {
  if (!hl) return h("p", { class: "muted" }, "No health data (no telemetry, or Prometheus unavailable).");
  const items: HTMLElement[] = [];
  const ws = hl.workloadStatuses ?? (hl.workloadStatus ? [hl.workloadStatus] : []);
  for (const w of ws) {
    const ok = w.availableReplicas >= w.desiredReplicas && w.desiredReplicas > 0;
    items.push(
      h(
        "li",
        null,
        statusBadge(ok ? "Healthy" : w.desiredReplicas === 0 ? "NotReady" : w.availableReplicas === 0 ? "Failure" : "Degraded", "pods"),
        ` ${w.name}: ${w.availableReplicas}/${w.desiredReplicas} replicas available (${w.currentReplicas} current)`,
      ),
    );
  }
  for (const dir of ["inbound", "outbound"] as const) {
    for (const [proto, codes] of Object.entries(hl.requests?.[dir] ?? {})) {
      const total = Object.values(codes).reduce((a, b) => a + (Number(b) || 0), 0);
      const errs = Object.entries(codes)
        .filter(([c]) => c.startsWith("5") || c.startsWith("4") || c === "-" || (proto === "grpc" && c !== "0"))
        .reduce((a, [, v]) => a + (Number(v) || 0), 0);
      items.push(
        h(
          "li",
          null,
          statusBadge(errs === 0 ? "Healthy" : errs / total >= 0.1 ? "Failure" : "Degraded", dir),
          ` ${proto}: ${rate(total)}, ${percent(total ? (100 * errs) / total : 0)} errors`,
          h("span", { class: "muted" }, ` (${Object.entries(codes).map(([c, v]) => `${c}: ${(Number(v) || 0).toFixed(2)}`).join(", ")})`),
        ),
      );
    }
  }
  const ratio = hl.status?.errorRatio;
  return h(
    "div",
    { class: "health-explain" },
    h("p", null, statusBadge(hl.status?.status ?? "NA"), ratio !== undefined && ratio !== null && ratio > 0 ? ` error ratio ${percent(ratio)}` : ""),
    items.length ? h("ul", null, items) : h("p", { class: "muted" }, "No replicas or requests reported."),
  );
}
