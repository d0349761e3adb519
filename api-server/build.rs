//! Embeds the web UI: lists the files of `ui/dist` (built by `make ui`), or of `ui/placeholder` when the UI has
//! not been built, into `$OUT_DIR/ui_assets.rs` as `include_bytes!` entries. A clean clone therefore compiles
//! without npm, and serves a page that says how to build the UI.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(root, &p, out);
        } else if let Ok(rel) = p.strip_prefix(root) {
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, p.clone()));
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let dist = manifest.join("ui").join("dist");
    let placeholder = manifest.join("ui").join("placeholder");
    println!("cargo:rerun-if-changed=ui/dist");
    println!("cargo:rerun-if-changed=ui/placeholder");
    let built = dist.join("index.html").is_file();
    let root = if built { &dist } else { &placeholder };
    let mut files = Vec::new();
    walk(root, root, &mut files);
    let mut code = String::new();
    let _ = writeln!(
        code,
        "/// Whether the real UI (not the placeholder page) is embedded."
    );
    let _ = writeln!(code, "pub const BUILT: bool = {built};");
    let _ = writeln!(
        code,
        "/// Every embedded file: path relative to the UI root, and its bytes."
    );
    let _ = writeln!(code, "pub static ASSETS: &[(&str, &[u8])] = &[");
    for (rel, path) in &files {
        let _ = writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?})),",
            path.to_string_lossy()
        );
    }
    let _ = writeln!(code, "];");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("ui_assets.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
