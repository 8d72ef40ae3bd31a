//! Base64 decoded a slice at a time.

use proptest::prelude::*;

use super::*;

/// `data` as a mail carries it: base64 lines of 76 characters.
fn lines(data: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = Vec::new();
    for line in encoded.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn decode_in_slices(encoded: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut decoder = Base64Lines::default();
    let mut out = Vec::new();
    let mut at = 0;
    for cut in cuts
        .iter()
        .map(|c| c % (encoded.len() + 1))
        .chain([encoded.len()])
    {
        if cut > at {
            out.extend(decoder.feed(&encoded[at..cut]).unwrap());
            at = cut;
        }
    }
    out.extend(decoder.finish().unwrap());
    out
}

#[test]
fn padding_at_the_end_and_broken_base64() {
    for data in [&b""[..], b"a", b"ab", b"abc", b"abcd"] {
        assert_eq!(decode_in_slices(&lines(data), &[1, 3]), data, "{data:?}");
    }
    let mut decoder = Base64Lines::default();
    assert!(decoder.feed(b"ab!d").is_err());
}

proptest! {
    /// However the slices fall, the bytes come back whole.
    #[test]
    fn slices_decode_to_the_bytes(
        data in proptest::collection::vec(any::<u8>(), 0..2000),
        mut cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let encoded = lines(&data);
        cuts.sort_by_key(|c| c % (encoded.len() + 1));
        prop_assert_eq!(decode_in_slices(&encoded, &cuts), data);
    }
}
