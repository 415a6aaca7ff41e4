//! Where a generated crate lands relative to an enclosing Cargo workspace.
//!
//! Cargo walks up from a package to the first `Cargo.toml` with a
//! `[workspace]` table; when that workspace neither lists nor excludes the
//! package, every cargo command in it fails with "current package believes
//! it's in a workspace when it's not". A generated crate written there gets
//! its own empty `[workspace]` table instead, so it builds on its own.

use std::path::{Path, PathBuf};

/// How the crate at `out` relates to the nearest workspace above it.
#[derive(Debug, PartialEq, Eq)]
pub enum Placement {
    /// No workspace above it, or one that lists or excludes it: the manifest
    /// needs nothing.
    Fine,
    /// Inside the workspace rooted at this directory, which does not list it:
    /// the manifest needs its own `[workspace]` table.
    Stranded(PathBuf),
}

/// Judges `out` (absolute) against the workspace manifests above it.
pub fn placement(out: &Path) -> Result<Placement, String> {
    let mut dir = out.parent();
    while let Some(d) = dir {
        let manifest = d.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            let doc: toml::Table = text
                .parse()
                .map_err(|e| format!("cannot parse {}: {e}", manifest.display()))?;
            if let Some(ws) = doc.get("workspace").and_then(toml::Value::as_table) {
                let listed = |key: &str| matches(ws.get(key), d, out);
                return Ok(if listed("members") || listed("exclude") {
                    Placement::Fine
                } else {
                    Placement::Stranded(d.to_path_buf())
                });
            }
        }
        dir = d.parent();
    }
    Ok(Placement::Fine)
}

/// Whether a `members`/`exclude` list names `out`: members are globs
/// relative to the root; exclusions are path prefixes.
fn matches(list: Option<&toml::Value>, root: &Path, out: &Path) -> bool {
    let Some(entries) = list.and_then(toml::Value::as_array) else {
        return false;
    };
    let Ok(relative) = out.strip_prefix(root) else {
        return false;
    };
    entries.iter().filter_map(toml::Value::as_str).any(|entry| {
        let entry = Path::new(entry.trim_end_matches('/'));
        relative.starts_with(entry)
            || glob::Pattern::new(&entry.to_string_lossy()).is_ok_and(|p| p.matches_path(relative))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace(manifest: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
        dir
    }

    #[test]
    fn a_crate_under_a_workspace_that_does_not_list_it_is_stranded() {
        let ws = workspace("[workspace]\nmembers = [\"core\"]\n");
        let out = ws.path().join("sdk");
        assert_eq!(
            placement(&out).unwrap(),
            Placement::Stranded(ws.path().to_path_buf())
        );
    }

    #[test]
    fn members_globs_and_exclusions_count_as_listed() {
        let ws = workspace("[workspace]\nmembers = [\"sdks/*\"]\nexclude = [\"vendor\"]\n");
        assert_eq!(placement(&ws.path().join("sdks/api")).unwrap(), Placement::Fine);
        assert_eq!(placement(&ws.path().join("vendor/api")).unwrap(), Placement::Fine);
        assert!(matches!(
            placement(&ws.path().join("api")).unwrap(),
            Placement::Stranded(_)
        ));
    }

    #[test]
    fn a_package_manifest_above_is_not_a_workspace() {
        let ws = workspace("[package]\nname = \"x\"\n");
        assert_eq!(placement(&ws.path().join("sdk")).unwrap(), Placement::Fine);
    }

    #[test]
    fn a_broken_manifest_above_is_reported_not_guessed() {
        let ws = workspace("[workspace\n");
        let err = placement(&ws.path().join("sdk")).unwrap_err();
        assert!(
            err.contains("cannot parse") && err.contains("Cargo.toml"),
            "{err}"
        );
    }
}
