//! Helpers shared by the fuzz targets: reading settings off the front of
//! the fuzzer's bytes, and cutting the rest into pieces.
//!
//! Every parser here is fed by a network or a file in pieces of whatever
//! size `read` returns, so each target feeds the same bytes once whole and
//! once in pieces chosen by the fuzzer, and checks that both give the same
//! result.

/// Splits `N` setting bytes off the front of `data` (zeros when short).
pub fn settings<const N: usize>(data: &[u8]) -> ([u8; N], &[u8]) {
    let mut head = [0u8; N];
    let n = data.len().min(N);
    head[..n].copy_from_slice(&data[..n]);
    (head, &data[n..])
}

/// Cuts `input` into pieces whose sizes follow from `seed`: seed 0 gives one
/// byte at a time, other seeds a pseudo-random mix of sizes up to about
/// 4 × `seed` bytes, so the fuzzer can steer boundaries onto awkward spots.
pub fn pieces(input: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut state = u32::from(seed) | 0x9e37_7900;
    let mut rest = input;
    while !rest.is_empty() {
        // xorshift32: cheap and deterministic.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let max = usize::from(seed) * 4 + 1;
        let size = if seed == 0 {
            1
        } else {
            1 + state as usize % max
        };
        let (piece, more) = rest.split_at(size.min(rest.len()));
        out.push(piece);
        rest = more;
    }
    out
}
