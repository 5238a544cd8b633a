//! "Did you mean" for misspelt field names.

/// The one candidate close enough to `unknown` to be what was meant: an edit
/// distance (with transpositions) of at most 1 for names up to 4 characters and
/// at most 2 beyond (and never the whole name), case differences counting as one edit. `None` when nothing
/// is close or two candidates are equally close.
///
/// ```
/// use verdict::schema::did_you_mean;
/// let fields = ["pattern", "anyPattern", "deny", "message"];
/// assert_eq!(did_you_mean("patern", fields), Some("pattern"));
/// assert_eq!(did_you_mean("foreachh", fields), None);
/// ```
pub fn did_you_mean<'a>(unknown: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let length = unknown.chars().count();
    // Never more edits than leave something of the name.
    let limit = if length <= 4 { 1 } else { 2 }.min(length.saturating_sub(1));
    let mut best: Option<(usize, &'a str)> = None;
    let mut tie = false;
    for candidate in candidates {
        if candidate == unknown {
            continue;
        }
        let mut distance = strsim::damerau_levenshtein(&unknown.to_lowercase(), &candidate.to_lowercase());
        if distance == 0 {
            distance = 1; // differs only in case
        }
        if distance > limit {
            continue;
        }
        match best {
            Some((d, _)) if d < distance => {}
            Some((d, c)) if d == distance => tie = c != candidate,
            _ => {
                best = Some((distance, candidate));
                tie = false;
            }
        }
    }
    if tie {
        None
    } else {
        best.map(|(_, c)| c)
    }
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn close_unique_names_only() {
        assert_eq!(did_you_mean("enforcmentAction", ["enforcementAction", "match"]), Some("enforcementAction"));
        assert_eq!(did_you_mean("securityContex", ["securityContext", "name"]), Some("securityContext"));
        assert_eq!(did_you_mean("Kinds", ["kinds"]), Some("kinds"));
        assert_eq!(did_you_mean("nam", ["name", "nim"]), None, "two at distance 1");
        assert_eq!(did_you_mean("xyz", ["abc"]), None);
        assert_eq!(did_you_mean("x", ["a"]), None, "a one-letter name is not a typo of another");
        assert_eq!(did_you_mean("ky", ["k8"]), Some("k8"));
    }
}
