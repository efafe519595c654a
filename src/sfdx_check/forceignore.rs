//! `.forceignore`: the gitignore-style list of files the Salesforce CLI skips.
//!
//! Supported syntax (what Salesforce DX projects use): blank lines and `#` comments, `!` to
//! re-include, a trailing `/` for directories only, a leading or inner `/` to anchor a pattern
//! to the project folder, and the globs `*`, `?` and `**`. A pattern without an inner slash
//! matches a file or folder name at any depth.

/// The parsed `.forceignore` of a project.
#[derive(Debug, Default, Clone)]
pub struct ForceIgnore {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    /// Path segments of the glob (`**` kept as its own segment).
    segments: Vec<String>,
    anchored: bool,
    dir_only: bool,
    negated: bool,
}

impl ForceIgnore {
    /// Parses the text of a `.forceignore` file.
    pub fn parse(text: &str) -> ForceIgnore {
        let mut rules = Vec::new();
        for line in text.lines() {
            let mut line = line.trim_end();
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let negated = line.starts_with('!');
            if negated {
                line = &line[1..];
            }
            let dir_only = line.ends_with('/');
            let line = line.trim_end_matches('/');
            let anchored = line.trim_start_matches('/').contains('/') || line.starts_with('/');
            let segments: Vec<String> = line
                .trim_start_matches('/')
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if segments.is_empty() {
                continue;
            }
            rules.push(Rule {
                segments,
                anchored,
                dir_only,
                negated,
            });
        }
        ForceIgnore { rules }
    }

    /// Whether a file (path relative to the project folder, `/`-separated) is ignored: it is
    /// when the file or any folder above it matches, the last matching rule deciding.
    pub fn is_ignored(&self, relative_path: &str) -> bool {
        let parts: Vec<&str> = relative_path.split('/').filter(|p| !p.is_empty()).collect();
        (1..=parts.len()).any(|n| {
            let is_dir = n < parts.len();
            self.matches(&parts[..n], is_dir)
        })
    }

    fn matches(&self, path: &[&str], is_dir: bool) -> bool {
        let mut ignored = false;
        for rule in &self.rules {
            if rule.dir_only && !is_dir {
                continue;
            }
            let hit = if rule.anchored {
                glob_segments(&rule.segments, path)
            } else {
                // Unanchored: the name at any depth.
                path.last()
                    .is_some_and(|name| rule.segments.len() == 1 && glob(&rule.segments[0], name))
            };
            if hit {
                ignored = !rule.negated;
            }
        }
        ignored
    }
}

/// Matches glob segments (with `**` spanning any number of segments) against path segments.
fn glob_segments(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| glob_segments(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((name, tail)) => glob(first, name) && glob_segments(rest, tail),
            None => false,
        },
    }
}

/// `*` (any run of characters) and `?` (one character) within one path segment.
fn glob(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_patterns_match_what_the_cli_skips() {
        let ignore = ForceIgnore::parse(
            "# comment\n\npackage.xml\n**/jsconfig.json\n**/__tests__/**\n**/*.template\n",
        );
        assert!(ignore.is_ignored("package.xml"));
        assert!(ignore.is_ignored("force-app/main/default/package.xml"));
        assert!(ignore.is_ignored("force-app/lwc/x/jsconfig.json"));
        assert!(ignore.is_ignored("force-app/lwc/x/__tests__/a/b.js"));
        assert!(ignore.is_ignored(
            "force-app/main/default/extlClntAppGlobalOauthSets/A.ecaGlblOauth-meta.xml.template"
        ));
        assert!(!ignore.is_ignored(
            "force-app/main/default/extlClntAppGlobalOauthSets/A.ecaGlblOauth-meta.xml"
        ));
        assert!(
            !ignore.is_ignored("force-app/main/default/objects/Contact/fields/X__c.field-meta.xml")
        );
    }

    #[test]
    fn anchoring_directories_and_negation() {
        let ignore = ForceIgnore::parse(
            "/force-app/main/default/settings/\n*.md\n!KEEP.md\nobjects/*/fields/Old__c.field-meta.xml\n",
        );
        assert!(ignore.is_ignored("force-app/main/default/settings/Order.settings-meta.xml"));
        assert!(
            !ignore.is_ignored("other/force-app/main/default/settings/Order.settings-meta.xml")
        );
        assert!(ignore.is_ignored("force-app/README.md"));
        assert!(!ignore.is_ignored("force-app/KEEP.md"));
        assert!(ignore.is_ignored("objects/Contact/fields/Old__c.field-meta.xml"));
        assert!(!ignore.is_ignored("force-app/objects/Contact/fields/Old__c.field-meta.xml"));
    }

    #[test]
    fn globs() {
        assert!(glob("*.xml", "a.xml"));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
        assert!(glob("?.txt", "a.txt"));
        assert!(!glob("?.txt", "ab.txt"));
        assert!(glob("*", ""));
    }
}
