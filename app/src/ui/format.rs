//! Small formatting helpers for pages.

/// "3 minutes ago"-style age of an RFC 3339 time.
pub fn age(rfc3339: &str) -> String {
    let Some(secs) = seconds_since(rfc3339) else {
        return rfc3339.to_string();
    };
    let (n, unit) = if secs < 60 {
        return "just now".into();
    } else if secs < 3600 {
        (secs / 60, "minute")
    } else if secs < 86_400 {
        (secs / 3600, "hour")
    } else {
        (secs / 86_400, "day")
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

fn seconds_since(rfc3339: &str) -> Option<i64> {
    #[cfg(feature = "hydrate")]
    {
        let then = js_sys::Date::parse(rfc3339);
        if then.is_nan() {
            return None;
        }
        Some(((js_sys::Date::now() - then) / 1000.0) as i64)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = rfc3339;
        None
    }
}

/// A count with thousands separated: `100000` is "100,000".
pub fn count(v: u64) -> String {
    let digits = v.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "1.2 KiB"-style size.
pub fn bytes(n: usize) -> String {
    if n < 1024 {
        format!("{n} B")
    } else if n < 1024 * 1024 {
        // Integer arithmetic, rounded: float formatting would add about
        // 6 KB (brotli) to the wasm for this one line.
        let tenths = (n as u64 * 10 + 512) / 1024;
        format!("{}.{} KiB", tenths / 10, tenths % 10)
    } else {
        let hundredths = (n as u64 * 100 + 512 * 1024) / (1024 * 1024);
        format!("{}.{:02} MiB", hundredths / 100, hundredths % 100)
    }
}

/// The first bytes of a binary value as hex, for a preview.
pub fn hex_preview(data: &[u8], max: usize) -> String {
    let mut out: Vec<String> = data.iter().take(max).map(|b| format!("{b:02x}")).collect();
    if data.len() > max {
        out.push("…".into());
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separated() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(100_000), "100,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(bytes(12), "12 B");
        assert_eq!(bytes(2048), "2.0 KiB");
        assert_eq!(bytes(3 * 1024 * 1024), "3.00 MiB");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(1_500_000), "1.43 MiB");
    }

    #[test]
    fn hex_previews_are_cut() {
        assert_eq!(hex_preview(&[0, 255, 16], 2), "00 ff …");
    }
}
