//! `CODEOWNERS` as GitHub reads it: gitignore-style patterns, the last matching
//! line wins, a line with no owners un-owns what it matches, and what GitHub
//! rejects (negation with `!`, `[ ]` character ranges, `\#` escapes) is
//! reported rather than guessed at. Matching uses the `ignore` crate's
//! gitignore engine, one matcher per line.

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use std::path::Path;

/// Where GitHub looks, in order; the first that exists is used.
pub const LOCATIONS: [&str; 3] = [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];

/// A parsed CODEOWNERS file.
#[derive(Debug)]
pub struct CodeOwners {
    rules: Vec<(Gitignore, Vec<String>)>,
    /// Lines GitHub would not accept, with their 1-based number.
    pub invalid: Vec<(usize, String)>,
}

impl CodeOwners {
    /// Parse CODEOWNERS text.
    ///
    /// ```
    /// use verdict::lifecycle::CodeOwners;
    /// let owners = CodeOwners::parse("*  @all\n/policies/ @policy\n/policies/lib/\n!/policies/x.rego @nobody\n");
    /// assert_eq!(owners.owners("README.md"), Some(vec!["@all".to_string()]));
    /// assert_eq!(owners.owners("policies/gate/rule.yaml"), Some(vec!["@policy".to_string()]));
    /// assert_eq!(owners.owners("policies/lib/util.rego"), None, "a line without owners un-owns");
    /// assert_eq!(owners.invalid, vec![(4, "negation (`!`) is not supported by GitHub".to_string())]);
    /// ```
    pub fn parse(text: &str) -> CodeOwners {
        let mut rules = Vec::new();
        let mut invalid = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let number = index + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_whitespace();
            let pattern = fields.next().unwrap_or_default();
            let owners: Vec<String> = fields.take_while(|f| !f.starts_with('#')).map(str::to_string).collect();
            if pattern.starts_with('!') {
                invalid.push((number, "negation (`!`) is not supported by GitHub".to_string()));
                continue;
            }
            if pattern.contains('[') || pattern.starts_with("\\#") {
                invalid.push((number, format!("pattern {pattern:?}: character ranges and escaped `#` are not supported by GitHub")));
                continue;
            }
            if let Some(bad) = owners.iter().find(|o| !(o.starts_with('@') || o.contains('@'))) {
                invalid.push((number, format!("owner {bad:?} is neither @user, @org/team nor an email")));
                continue;
            }
            let mut builder = GitignoreBuilder::new("");
            if let Err(e) = builder.add_line(None, pattern) {
                invalid.push((number, format!("pattern {pattern:?}: {e}")));
                continue;
            }
            match builder.build() {
                Ok(matcher) => rules.push((matcher, owners)),
                Err(e) => invalid.push((number, format!("pattern {pattern:?}: {e}"))),
            }
        }
        CodeOwners { rules, invalid }
    }

    /// Read the first CODEOWNERS of [`LOCATIONS`] under `root`, if any.
    pub fn find(root: &Path) -> Option<(String, CodeOwners)> {
        LOCATIONS.iter().find_map(|loc| std::fs::read_to_string(root.join(loc)).ok().map(|t| (loc.to_string(), CodeOwners::parse(&t))))
    }

    /// Owners of `path` (relative to the repository root, `/`-separated): those
    /// of the last line that matches it; `None` when no line does, or the last
    /// matching line names nobody.
    pub fn owners(&self, path: &str) -> Option<Vec<String>> {
        let path = Path::new(path.trim_start_matches('/'));
        for (matcher, owners) in self.rules.iter().rev() {
            // A pattern naming a directory owns everything below it.
            if matcher.matched_path_or_any_parents(path, false).is_ignore() {
                return (!owners.is_empty()).then(|| owners.clone());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_matching_line_wins_and_anchoring_follows_gitignore() {
        let owners = CodeOwners::parse("*.rego @rego\n/policies/ @policy\ndocs/ @docs\n/policies/terraform/*.rego @cloud\n");
        assert_eq!(owners.owners("lib/x.rego").unwrap(), ["@rego"]);
        assert_eq!(owners.owners("policies/k8s/x.rego").unwrap(), ["@policy"], "later /policies/ beats *.rego");
        assert_eq!(owners.owners("policies/terraform/s3.rego").unwrap(), ["@cloud"]);
        assert_eq!(owners.owners("policies/terraform/deep/s3.rego").unwrap(), ["@policy"], "* does not cross /");
        assert_eq!(owners.owners("src/docs/a.md").unwrap(), ["@docs"], "an unanchored directory matches at any depth");
        assert_eq!(owners.owners("README.md"), None);
    }

    #[test]
    fn unsupported_lines_are_reported_and_ignored() {
        let owners = CodeOwners::parse("* @all\n!policies/ @x\npolicies/[ab].yaml @y\npolicies/ owner-without-at\n");
        assert_eq!(owners.invalid.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(owners.owners("policies/a.yaml").unwrap(), ["@all"]);
    }
}
