//! Writing JSON straight into bytes, as serde_json writes it: which bytes a JSON string must
//! escape, and the primitives the direct writers share (the graph's, `graph/json.rs`, and
//! health's, `health/json.rs`). The graph's output model marks labels that need no escaping
//! once ([`crate::graph::cytoscape`]), and the writer copies those as they are.

/// Whether any byte is a control character, `"` or `\\` (eight bytes at a time).
pub(crate) fn needs_escape(b: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // High bit set in a byte of the result for (at least) every byte of `v` below `n`: no false
    // negatives; a false positive only costs an exact byte-wise look at the chunk.
    #[inline(always)]
    fn below(v: u64, n: u64) -> u64 {
        v.wrapping_sub(LO * n) & !v & HI
    }
    #[inline(always)]
    fn hit(w: [u8; 8]) -> bool {
        let x = u64::from_le_bytes(w);
        below(x, 0x20)
            | below(x ^ (LO * u64::from(b'"')), 1)
            | below(x ^ (LO * u64::from(b'\\')), 1)
            != 0
    }
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        if hit(w) && needs_escape_bytes(c) {
            return true;
        }
    }
    // The tail, padded with a harmless byte, in one word too.
    let rest = chunks.remainder();
    let mut w = [b'a'; 8];
    w[..rest.len()].copy_from_slice(rest);
    hit(w) && needs_escape_bytes(rest)
}

pub(crate) fn needs_escape_bytes(b: &[u8]) -> bool {
    b.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// A JSON string, escaped exactly as serde_json does (one copy when nothing needs escaping).
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    if !needs_escape(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        delegate(out, s);
    }
}

/// Serialises a value with serde_json (compact output is context-free, so the bytes are the same
/// as inside the whole document).
pub(crate) fn delegate<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    // Writing into a Vec cannot fail, and the engine's types serialise infallibly.
    let _ = serde_json::to_writer(&mut *out, v);
}

/// `,"key":` — keys are ASCII literals without characters to escape.
pub(crate) fn key(out: &mut Vec<u8>, k: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(k.as_bytes());
    out.extend_from_slice(b"\":");
}

#[cfg(test)]
mod tests {
    use super::{needs_escape, needs_escape_bytes};

    #[test]
    fn word_scan_agrees_with_byte_scan() {
        let mut s: Vec<u8> = b"0123456789abcdef0123456789abcdef-x.y_z/".to_vec();
        for pos in 0..s.len() {
            for special in [
                0u8, 0x1f, b'"', b'\\', 0x20, 0x7f, 0x80, 0xff, b'!', b'#', b'[', b']',
            ] {
                let old = s[pos];
                s[pos] = special;
                for start in 0..9.min(s.len()) {
                    let b = &s[start..];
                    assert_eq!(needs_escape(b), needs_escape_bytes(b), "{b:?}");
                }
                s[pos] = old;
            }
        }
    }
}
