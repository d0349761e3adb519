export function rate(n: number): string {
  if (!Number.isFinite(n) || n === 0) return "0 rps";
  if (n < 0.01) return `${n.toFixed(3)} rps`;
  return `${n.toFixed(2)} rps`;
}

export function percent(n: number): string {
  if (!Number.isFinite(n) || n === 0) return "0%";
  return `${n < 1 ? n.toFixed(2) : n.toFixed(1)}%`;
}

export function num(s: string | number | undefined | null): number {
  if (s === undefined || s === null || s === "") return 0;
  const n = typeof s === "number" ? s : parseFloat(s);
  return Number.isFinite(n) ? n : 0;
}

export function ms(n: number): string {
  if (!Number.isFinite(n)) return "";
  return n >= 1000 ? `${(n / 1000).toFixed(2)}s` : `${Math.round(n)}ms`;
}
