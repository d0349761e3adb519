//! gzip of large answers on every core. The namespace graph of a big mesh is a body of
//! megabytes (13 MB at 800 namespaces × 3 clusters), and gzip of it on one core took longer
//! than the graph's own writing (74 ms at level 6, 18 % of the server's CPU for the page).
//! A body from [`PARALLEL_FROM`] up is cut into segments compressed side by side, each a raw
//! deflate stream ended by a sync flush (so the next one can follow at a byte boundary), and
//! joined into one gzip member with the CRC-32 of the whole: the same format a client gets from
//! `gzip -6`, a few hundred bytes larger (each segment starts without the previous one's
//! window). pigz cuts its input the same way.
//!
//! [`gzip_large`] is the middleware: a full body of that size, for a client that accepts gzip,
//! is compressed here; every other answer goes on to tower-http's compression
//! (`crate::routes::compressed`), which leaves an answer with a `Content-Encoding` alone.

use axum::body::Body;
use axum::body::HttpBody as _;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// Bodies from this size up are compressed in segments ([`gzip`]); smaller ones by tower-http.
pub const PARALLEL_FROM: usize = 1 << 20;

/// The smallest segment: below it the segments' lost windows would cost more than the cores
/// save.
const MIN_SEGMENT: usize = 512 << 10;

/// At most this many segments (and threads) per body.
const MAX_SEGMENTS: usize = 8;

/// The level of every answer's gzip (tower-http's default, zlib's 6).
const LEVEL: u32 = 6;

/// `body` as one gzip member, compressed in up to `threads` segments side by side; `None` if
/// zlib refused a segment (it does not, deflating into a growing buffer).
pub fn gzip(body: &[u8], threads: usize) -> Option<Vec<u8>> {
    let segments = threads.min(body.len() / MIN_SEGMENT).clamp(1, MAX_SEGMENTS);
    let size = body.len().div_ceil(segments).max(1);
    let parts: Vec<&[u8]> = body.chunks(size).collect();
    let compressed: Vec<Option<(Vec<u8>, Crc)>> = match parts.split_first() {
        None => vec![segment(&[])],
        Some((first, rest)) => std::thread::scope(|scope| {
            let rest: Vec<_> = rest
                .iter()
                .map(|p| scope.spawn(move || segment(p)))
                .collect();
            let mut out = vec![segment(first)];
            // A segment whose thread panicked leaves the body to be sent uncompressed.
            out.extend(rest.into_iter().map(|h| h.join().ok().flatten()));
            out
        }),
    };
    let compressed: Vec<(Vec<u8>, Crc)> = compressed.into_iter().collect::<Option<_>>()?;
    let total: usize = compressed.iter().map(|(c, _)| c.len()).sum();
    let mut out = Vec::with_capacity(total + 20);
    // The gzip header: deflate, no flags, no time, no extra flags, unknown OS.
    out.extend_from_slice(&[0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff]);
    let mut crc = Crc::new();
    for (c, part_crc) in &compressed {
        out.extend_from_slice(c);
        crc.combine(part_crc);
    }
    // The last block: empty, final, fixed Huffman codes (BFINAL 1, BTYPE 01, end of block).
    out.extend_from_slice(&[0x03, 0x00]);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&crc.amount().to_le_bytes());
    Some(out)
}

/// One segment: raw deflate of `part` ended by a sync flush (no final block), and its CRC.
fn segment(part: &[u8]) -> Option<(Vec<u8>, Crc)> {
    let mut crc = Crc::new();
    crc.update(part);
    let mut z = Compress::new(Compression::new(LEVEL), false);
    let mut out = Vec::with_capacity(part.len() / 4 + 1024);
    loop {
        let consumed = z.total_in() as usize;
        let status = z
            .compress_vec(&part[consumed..], &mut out, FlushCompress::Sync)
            .ok()?;
        let done = z.total_in() as usize == part.len() && out.len() < out.capacity();
        match status {
            Status::Ok | Status::BufError if done => return Some((out, crc)),
            _ => out.reserve(out.capacity().max(64 << 10)),
        }
    }
}

/// The server's cores, read once (`available_parallelism` reads the cgroup's CPU quota).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// Whether the request's `Accept-Encoding` takes gzip (`gzip` or `*` with a non-zero q, and
/// gzip not refused by name).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match coding.as_str() {
                "gzip" | "x-gzip" => gzip = Some(q > 0.0),
                "*" => any = Some(q > 0.0),
                _ => {}
            }
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// Media types worth compressing: what the server writes large (JSON, the UI's scripts and
/// styles, SVG).
fn compressible(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let ct = ct.split(';').next().unwrap_or("").trim();
    ct == "application/json"
        || ct == "application/javascript"
        || ct == "image/svg+xml"
        || (ct.starts_with("text/") && ct != "text/event-stream")
}

/// The middleware: a full body of [`PARALLEL_FROM`] bytes or more, for a client that accepts
/// gzip, is sent compressed by [`gzip`] on a blocking thread; anything else goes on as it is.
pub async fn gzip_large(req: Request, next: Next) -> Response {
    let wants = accepts_gzip(req.headers());
    let resp = next.run(req).await;
    let large = resp
        .body()
        .size_hint()
        .exact()
        .is_some_and(|n| n >= PARALLEL_FROM as u64);
    if !wants
        || !large
        || resp.headers().contains_key(header::CONTENT_ENCODING)
        || !compressible(resp.headers())
    {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        // A full body does not fail to collect; if it did, nothing is left to send.
        return Response::from_parts(parts, Body::empty());
    };
    let plain = bytes.clone();
    let Ok(Some(zipped)) = tokio::task::spawn_blocking(move || gzip(&bytes, cores())).await else {
        // Sent as it is rather than lost.
        return Response::from_parts(parts, Body::from(plain));
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    parts
        .headers
        .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    Response::from_parts(parts, Body::from(zipped))
}

/// `bytes` decoded by flate2's gzip reader (which stops after the first member).
#[cfg(test)]
pub(crate) fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a gzip stream");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body shaped like a graph's JSON: repetitive, with varying numbers.
    fn body(len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 64);
        let mut i = 0u64;
        while out.len() < len {
            out.extend_from_slice(
                format!(
                    "{{\"id\":\"{:016x}\",\"rate\":{}.{}}},",
                    i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                    i % 97,
                    i % 13
                )
                .as_bytes(),
            );
            i += 1;
        }
        out.truncate(len);
        out
    }

    #[test]
    fn segments_join_into_one_gzip_member_of_the_same_bytes() {
        for len in [
            0,
            1,
            100,
            MIN_SEGMENT - 1,
            MIN_SEGMENT,
            3 * MIN_SEGMENT + 7,
            5 << 20,
        ] {
            let b = body(len);
            for threads in [1, 2, 3, 8, 64] {
                let z = gzip(&b, threads).expect("compressed");
                assert_eq!(gunzip(&z), b, "len {len}, threads {threads}");
                // One member: the decoder above stops after the first; the trailer is the end.
                assert_eq!(&z[z.len() - 4..], &(len as u32).to_le_bytes());
            }
        }
    }

    #[test]
    fn segments_cost_little_against_one_stream() {
        let b = body(8 << 20);
        let one = gzip(&b, 1).expect("compressed").len();
        let eight = gzip(&b, 8).expect("compressed").len();
        assert!(
            eight < one + one / 50,
            "1 segment {one} B, 8 segments {eight} B"
        );
        assert!(one * 2 < b.len(), "{} → {one}", b.len());
    }

    #[test]
    fn accept_encoding_is_read_with_its_q_values() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&m)
        };
        assert!(h("gzip"));
        assert!(h("gzip, deflate, br"));
        assert!(h("br;q=1.0, GZIP;q=0.5"));
        assert!(h("*"));
        assert!(!h("gzip;q=0"));
        assert!(!h("*, gzip;q=0"));
        assert!(!h("br, deflate"));
        assert!(!h("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
