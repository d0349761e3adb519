//! Prints the bookinfo graph for the given query string, e.g.
//! `cargo run -p meshglass-engine --example print_graph -- 'graphType=app&boxBy=cluster'`.
use meshglass_engine::{GraphOptions, build_graph, fixtures};

fn main() {
    let q = std::env::args().nth(1).unwrap_or_default();
    let mut pairs: Vec<(String, String)> = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect();
    if !pairs.iter().any(|(k, _)| k == "namespaces") {
        pairs.push(("namespaces".to_string(), "bookinfo".to_string()));
    }
    let opts = match GraphOptions::from_query_pairs(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        1_700_000_000,
    ) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let r = build_graph(
        &opts,
        &fixtures::bookinfo_samples(),
        &fixtures::bookinfo_inventory(),
    );
    match serde_json::to_string_pretty(&r) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("{e}"),
    }
}
