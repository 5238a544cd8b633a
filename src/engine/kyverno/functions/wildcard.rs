//! Kyverno's `wildcard.Match` (`*` any run, `?` one character), used by
//! `pattern_match` and by the In/AnyIn/Equals condition operators.

/// True when `name` matches `pattern` entirely; linear-time, no backtracking blow-up.
pub(crate) fn matches(pattern: &str, name: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return pattern == name;
    }
    if pattern == "*" {
        return true;
    }
    if pattern.is_ascii() && name.is_ascii() {
        return glob(pattern.as_bytes(), name.as_bytes());
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    glob(&pattern, &name)
}

/// Greedy glob with single-star backtracking, over bytes or chars.
fn glob<T: Copy + PartialEq + From<u8>>(pattern: &[T], name: &[T]) -> bool {
    let (star_sym, any_sym) = (T::from(b'*'), T::from(b'?'));
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && (pattern[p] == any_sym || pattern[p] == name[n]) {
            p += 1;
            n += 1;
        } else if p < pattern.len() && pattern[p] == star_sym {
            star = Some((p, n));
            p += 1;
        } else if let Some((star_p, star_n)) = star {
            p = star_p + 1;
            n = star_n + 1;
            star = Some((star_p, star_n + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == star_sym)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs() {
        assert!(matches("*", ""));
        assert!(matches("ngin?", "nginx"));
        assert!(matches("*.io/*", "ghcr.io/app"));
        assert!(!matches("a*b", "acbd"));
        assert!(matches("a*b*", "acbd"));
        assert!(!matches("", "x"));
        assert!(matches(&"a*".repeat(50), &"a".repeat(200)));
        assert!(matches("h?llo*", "héllo wörld"));
        assert!(!matches("h?llo", "hééllo"));
    }
}
