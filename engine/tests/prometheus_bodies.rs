//! Fuzzing the Prometheus response parser (issue 20): whatever a metrics store, a proxy in front
//! of it or a broken network returns, `parse_prometheus_response` answers `Ok` or `Err` and never
//! panics. Over a million generated bodies per run (`MESHGLASS_PROPTEST_CASES` overrides the count): well-formed answers with hostile values,
//! wrong shapes, and byte-level mutations and truncations of a real answer.

use meshglass_engine::{Family, parse_prometheus_response};
use proptest::prelude::any;
use proptest::test_runner::{Config, TestRunner};

const REAL: &str = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"reporter":"destination","source_cluster":"west","source_workload":"productpage-v1","source_workload_namespace":"bookinfo","destination_cluster":"east","destination_service":"reviews.bookinfo.svc.cluster.local","destination_workload":"reviews-v3","destination_workload_namespace":"bookinfo","response_code":"200"},"value":[1700000000,"2.5"]}]}}"#;

const FAMILIES: [Family; 4] = [
    Family::RequestsTotal,
    Family::TcpSentBytes,
    Family::RequestDurationBucket,
    Family::RequestMessages,
];

/// A small deterministic generator: proptest draws the seed (and shrinks it on failure), the body
/// is derived from it cheaply, so a million cases run in seconds.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
        options[self.below(options.len())]
    }

    /// A JSON value of any shape, depth-bounded.
    fn value(&mut self, depth: u32, out: &mut String) {
        let kinds = if depth == 0 { 6 } else { 8 };
        match self.below(kinds) {
            0 => out.push_str(self.pick(&["null", "true", "false", "0", "-1", "1e999", "1.5"])),
            1 => out.push_str(&(self.next() as i64).to_string()),
            2 => out.push_str(
                &f64::from_bits(self.next())
                    .to_string()
                    .replace("NaN", "0")
                    .replace("inf", "1"),
            ),
            3 => out.push_str(self.pick(&[
                "\"NaN\"", "\"+Inf\"", "\"-Inf\"", "\"2.5\"", "\"\"", "\"x\"",
            ])),
            4 => {
                out.push_str(self.pick(&["\"\\ud800\"", "\"\\u0000\"", "\"bookinfo\"", "\"\\\"\""]))
            }
            5 => {
                out.push('"');
                for _ in 0..self.below(12) {
                    let c = (b' ' + (self.below(95) as u8)) as char;
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
            6 => {
                out.push('[');
                for i in 0..self.below(4) {
                    if i > 0 {
                        out.push(',');
                    }
                    self.value(depth - 1, out);
                }
                out.push(']');
            }
            _ => {
                out.push('{');
                for i in 0..self.below(4) {
                    if i > 0 {
                        out.push(',');
                    }
                    let k = self.pick(&["metric", "value", "reporter", "le", "x", ""]);
                    out.push_str(&format!("\"{k}\":"));
                    self.value(depth - 1, out);
                }
                out.push('}');
            }
        }
    }

    /// Either the right thing (usually) or any value.
    fn or_value(&mut self, right: &str, out: &mut String) {
        if self.below(4) == 0 {
            self.value(2, out);
        } else {
            out.push_str(right);
        }
    }

    /// A body shaped like a Prometheus answer whose parts may be of the wrong kind.
    fn answer(&mut self) -> Vec<u8> {
        let mut b = String::from("{\"status\":");
        let status = self.pick(&["\"success\"", "\"success\"", "\"error\""]);
        self.or_value(status, &mut b);
        b.push_str(",\"data\":{\"resultType\":");
        let rt = self.pick(&["\"vector\"", "\"vector\"", "\"matrix\"", "\"scalar\""]);
        self.or_value(rt, &mut b);
        b.push_str(",\"result\":[");
        for i in 0..self.below(4) {
            if i > 0 {
                b.push(',');
            }
            b.push_str("{\"metric\":{");
            for j in 0..self.below(6) {
                if j > 0 {
                    b.push(',');
                }
                let k = self.pick(&[
                    "reporter",
                    "source_cluster",
                    "destination_service",
                    "response_code",
                    "le",
                    "x",
                    "__name__",
                ]);
                b.push_str(&format!("\"{k}\":"));
                self.or_value("\"v\"", &mut b);
            }
            b.push_str("},\"value\":[");
            self.or_value("1700000000", &mut b);
            b.push(',');
            self.or_value("\"1.25\"", &mut b);
            b.push_str("]}");
        }
        b.push_str("]}");
        if self.below(3) == 0 {
            b.push_str(",\"error\":");
            self.value(1, &mut b);
        }
        b.push('}');
        b.into_bytes()
    }

    /// A real answer with bytes replaced, inserted or cut off.
    fn mutated(&mut self) -> Vec<u8> {
        let mut b = REAL.as_bytes().to_vec();
        for _ in 0..self.below(8) {
            let at = self.below(b.len());
            let byte = self.next() as u8;
            if self.below(2) == 0 {
                b[at] = byte;
            } else {
                b.insert(at, byte);
            }
        }
        if self.below(3) == 0 {
            b.truncate(self.below(b.len()) + 1);
        }
        b
    }

    fn body(&mut self) -> Vec<u8> {
        match self.below(10) {
            0..4 => self.answer(),
            4..8 => self.mutated(),
            8 => (0..self.below(64)).map(|_| self.next() as u8).collect(),
            _ => b"<html><body>502 Bad Gateway</body></html>".to_vec(),
        }
    }
}

#[test]
fn parser_never_panics_on_generated_bodies() {
    // A million by default (about 20 s in a debug build); `MESHGLASS_PROPTEST_CASES` overrides it.
    let cases: u32 = std::env::var("MESHGLASS_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let counts = std::cell::Cell::new((0u64, 0u64));
    runner
        .run(&(any::<u64>(), 0..FAMILIES.len()), |(seed, f)| {
            let b = Gen(seed | 1).body();
            let (o, e) = counts.get();
            match parse_prometheus_response(FAMILIES[f], &b) {
                Ok(_) => counts.set((o + 1, e)),
                Err(_) => counts.set((o, e + 1)),
            }
            Ok(())
        })
        .expect("the parser panicked");
    let (ok, err) = counts.get();
    assert_eq!(ok + err, u64::from(cases), "every case ran");
    // Both outcomes occur: the generator reaches valid answers, not only garbage.
    assert!(ok > 0 && err > 0, "ok {ok}, err {err}");
    println!("prometheus bodies: {cases} inputs, {ok} parsed, {err} rejected, 0 panics");
}
