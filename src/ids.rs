//! Short random identifiers for replay names, run ids and sandbox data.

/// `len` random lowercase hex digits (not cryptographic; unique enough for names).
pub fn random_hex(len: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    (0..len)
        .map(|_| char::from(HEX[fastrand::usize(..HEX.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_hex_has_the_length_and_varies() {
        let a = super::random_hex(20);
        let b = super::random_hex(20);
        assert_eq!(a.len(), 20);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
