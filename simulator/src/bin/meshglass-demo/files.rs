//! Files of the demo: paths made absolute, example files read, Secret contents written private.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::kube_util::yaml_documents;

pub fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

pub fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// The one object of a YAML file (the example Kiali CRs).
pub fn one_document(path: &Path) -> anyhow::Result<serde_json::Value> {
    let mut docs = yaml_documents(&read(path)?)?;
    if docs.len() != 1 {
        bail!("{} should hold exactly one object", path.display());
    }
    Ok(docs.remove(0))
}

/// Writes a file only its owner can read (the remote-cluster kubeconfigs hold tokens).
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    Ok(())
}
