//! The throwaway Rekor: an in-memory RFC 6962 Merkle log whose key signs entry
//! timestamps (SETs) and checkpoints, plus the entry bodies it stores
//! (`hashedrekord` and `dsse`, both 0.0.1) in Rekor's canonical JSON.

use super::ca::spki_der;
use super::{canonical_json, sha256, B64};
use base64::Engine as _;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::json;
use std::sync::Mutex;

/// RFC 6962 leaf hash: SHA-256(0x00 || entry).
pub(crate) fn leaf_hash(entry: &[u8]) -> [u8; 32] {
    let mut data = Vec::with_capacity(entry.len() + 1);
    data.push(0);
    data.extend_from_slice(entry);
    sha256(&data)
}

/// RFC 6962 interior node hash: SHA-256(0x01 || left || right).
pub(crate) fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut data = [0u8; 65];
    data[0] = 1;
    data[1..33].copy_from_slice(left);
    data[33..].copy_from_slice(right);
    sha256(&data)
}

/// Largest power of two strictly below `n` (n >= 2): where RFC 6962 splits a tree.
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// Merkle tree hash over leaf hashes (RFC 6962 2.1).
pub(crate) fn tree_hash(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => sha256(b""),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&tree_hash(&leaves[..k]), &tree_hash(&leaves[k..]))
        }
    }
}

/// Audit path of leaf `index` (RFC 6962 2.1.1 PATH), lowest level first.
pub(crate) fn inclusion_proof(leaves: &[[u8; 32]], index: usize) -> Vec<[u8; 32]> {
    if leaves.len() <= 1 {
        return vec![];
    }
    let k = split(leaves.len());
    if index < k {
        let mut path = inclusion_proof(&leaves[..k], index);
        path.push(tree_hash(&leaves[k..]));
        path
    } else {
        let mut path = inclusion_proof(&leaves[k..], index - k);
        path.push(tree_hash(&leaves[..k]));
        path
    }
}

#[cfg(test)]
/// RFC 9162 2.1.3.2: does `proof` lead from `leaf` at `index` to `root` in a tree of `size`?
pub(crate) fn verify_inclusion(leaf: &[u8; 32], index: u64, size: u64, proof: &[[u8; 32]], root: &[u8; 32]) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s, mut r) = (index, size - 1, *leaf);
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// One entry as logged: what both cosign's bundle and a sigstore bundle are made from.
pub(crate) struct LoggedEntry {
    pub body: Vec<u8>,
    pub log_index: u64,
    pub integrated_time: i64,
    pub log_id: [u8; 32],
    pub set: Vec<u8>,
    pub tree_size: u64,
    pub root_hash: [u8; 32],
    pub proof: Vec<[u8; 32]>,
    pub checkpoint: String,
}

/// The log: its key and its leaves. Shared by every signer of one `TrustMaterial`,
/// so indexes grow and inclusion proofs are not trivial.
pub(crate) struct Log {
    pub key: SigningKey,
    pub log_id: [u8; 32],
    pub origin: String,
    leaves: Mutex<Vec<[u8; 32]>>,
}

/// Host name of the throwaway log; `.invalid` so nothing can ever resolve it.
pub(crate) const LOG_HOST: &str = "rekor.verdict.invalid";

impl Log {
    pub fn new() -> Log {
        let key = super::ca::new_key();
        let log_id = sha256(&spki_der(&key));
        let tree_id = u64::from_be_bytes(log_id[..8].try_into().expect("8 bytes")) >> 1;
        Log { key, log_id, origin: format!("{LOG_HOST} - {tree_id}"), leaves: Mutex::new(Vec::new()) }
    }

    /// Append `body`, returning the entry with its SET, proof and signed checkpoint.
    pub fn append(&self, body: Vec<u8>, integrated_time: i64) -> LoggedEntry {
        let mut leaves = self.leaves.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        leaves.push(leaf_hash(&body));
        let log_index = leaves.len() as u64 - 1;
        let root_hash = tree_hash(&leaves);
        let proof = inclusion_proof(&leaves, log_index as usize);
        let tree_size = leaves.len() as u64;
        drop(leaves);
        let set = sign_der(&self.key, &set_payload(&body, integrated_time, &self.log_id, log_index));
        let checkpoint = self.checkpoint(tree_size, &root_hash);
        LoggedEntry { body, log_index, integrated_time, log_id: self.log_id, set, tree_size, root_hash, proof, checkpoint }
    }

    /// A signed note (C2SP tlog-checkpoint) over origin, size and root, as Rekor v1 writes it.
    fn checkpoint(&self, size: u64, root: &[u8; 32]) -> String {
        let note = format!("{}\n{}\n{}\n", self.origin, size, B64.encode(root));
        let mut sig = self.log_id[..4].to_vec(); // key hint: first 4 bytes of the log id
        sig.extend(sign_der(&self.key, note.as_bytes()));
        format!("{note}\n\u{2014} {LOG_HOST} {}\n", B64.encode(sig))
    }
}

pub(crate) fn sign_der(key: &SigningKey, message: &[u8]) -> Vec<u8> {
    let signature: Signature = key.sign(message);
    signature.to_der().as_bytes().to_vec()
}

/// What a SET signs: canonical JSON of body (base64), integratedTime, logID (hex), logIndex.
pub(crate) fn set_payload(body: &[u8], integrated_time: i64, log_id: &[u8; 32], log_index: u64) -> Vec<u8> {
    canonical_json(&json!({
        "body": B64.encode(body),
        "integratedTime": integrated_time,
        "logID": hex::encode(log_id),
        "logIndex": log_index,
    }))
    .into_bytes()
}

#[cfg(test)]
/// The note text a checkpoint signature covers, its key hint and signature, and the
/// (size, root) it states. Only the one-signature form written here is read.
pub(crate) struct Checkpoint {
    pub note: String,
    pub key_hint: [u8; 4],
    pub signature: Vec<u8>,
    pub size: u64,
    pub root: Vec<u8>,
}

#[cfg(test)]
pub(crate) fn parse_checkpoint(text: &str) -> Result<Checkpoint, String> {
    let (note, sigs) = text.split_once("\n\n").ok_or("no blank line before the signatures")?;
    let note = format!("{note}\n");
    let mut lines = note.lines();
    let _origin = lines.next().filter(|l| !l.is_empty()).ok_or("empty origin")?;
    let size = lines.next().and_then(|l| l.parse().ok()).ok_or("bad tree size")?;
    let root = lines.next().and_then(|l| B64.decode(l).ok()).ok_or("bad root hash")?;
    let line = sigs.lines().next().ok_or("no signature line")?;
    let rest = line.strip_prefix("\u{2014} ").ok_or("signature line does not start with an em dash")?;
    let (_name, sig) = rest.split_once(' ').ok_or("signature line has no signature")?;
    let sig = B64.decode(sig).map_err(|e| format!("signature is not base64: {e}"))?;
    if sig.len() < 5 {
        return Err("signature too short".into());
    }
    Ok(Checkpoint { note, key_hint: sig[..4].try_into().expect("4 bytes"), signature: sig[4..].to_vec(), size, root })
}

/// Rekor `hashedrekord` 0.0.1 body, canonical: sha256 of the message, the signature, the leaf PEM.
pub(crate) fn hashedrekord_body(message: &[u8], signature_der: &[u8], leaf_pem: &str) -> Vec<u8> {
    canonical_json(&json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(sha256(message))}},
            "signature": {"content": B64.encode(signature_der), "publicKey": {"content": B64.encode(leaf_pem)}},
        },
    }))
    .into_bytes()
}

/// DSSE pre-authentication encoding: what a `.att` layer's signature signs, the
/// `message` for [`EntryKind::Dsse`](super::EntryKind::Dsse).
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {} {} ", payload_type.len(), payload_type, payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Split a PAE back into (payloadType, payload); a message that is not one is an error.
pub(crate) fn parse_pae(message: &[u8]) -> Result<(String, &[u8]), String> {
    fn field(rest: &[u8]) -> Result<(usize, &[u8]), String> {
        let space = rest.iter().position(|b| *b == b' ').ok_or("PAE: missing length")?;
        let len: usize = std::str::from_utf8(&rest[..space]).ok().and_then(|s| s.parse().ok()).ok_or("PAE: bad length")?;
        let rest = &rest[space + 1..];
        if rest.len() < len {
            return Err("PAE: truncated".into());
        }
        Ok((len, rest))
    }
    let rest = message.strip_prefix(b"DSSEv1 ").ok_or("not a DSSE PAE (no DSSEv1 prefix)")?;
    let (type_len, rest) = field(rest)?;
    let payload_type = std::str::from_utf8(&rest[..type_len]).map_err(|_| "PAE: payload type is not UTF-8")?.to_string();
    let rest = rest[type_len..].strip_prefix(b" ").ok_or("PAE: no space after the payload type")?;
    let (payload_len, rest) = field(rest)?;
    if rest.len() != payload_len {
        return Err("PAE: payload length does not match".into());
    }
    Ok((payload_type, rest))
}

/// Rekor `dsse` 0.0.1 body for a one-signature envelope. The envelope hash is taken over
/// the canonical envelope JSON (Rekor hashes what it was sent; verifiers cannot recheck it).
pub(crate) fn dsse_body(pae_message: &[u8], signature_der: &[u8], leaf_pem: &str) -> Result<Vec<u8>, String> {
    let (payload_type, payload) = parse_pae(pae_message)?;
    let envelope = canonical_json(&json!({
        "payload": B64.encode(payload),
        "payloadType": payload_type,
        "signatures": [{"sig": B64.encode(signature_der)}],
    }));
    Ok(canonical_json(&json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": hex::encode(sha256(envelope.as_bytes()))},
            "payloadHash": {"algorithm": "sha256", "value": hex::encode(sha256(payload))},
            "signatures": [{"signature": B64.encode(signature_der), "verifier": B64.encode(leaf_pem)}],
        },
    }))
    .into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inclusion_proofs_verify_for_every_leaf_of_trees_up_to_33() {
        let all: Vec<[u8; 32]> = (0u8..33).map(|i| leaf_hash(&[i])).collect();
        for size in 1..=all.len() {
            let leaves = &all[..size];
            let root = tree_hash(leaves);
            for index in 0..size {
                let proof = inclusion_proof(leaves, index);
                assert!(verify_inclusion(&leaves[index], index as u64, size as u64, &proof, &root), "size {size} index {index}");
                // Another leaf, index or a flipped proof hash must not verify. (The size is bound
                // by the signed checkpoint, not by the proof: RFC 9162 proofs can fit two sizes.)
                let other = leaf_hash(b"other");
                assert!(!verify_inclusion(&other, index as u64, size as u64, &proof, &root));
                if size > 1 {
                    assert!(!verify_inclusion(&leaves[index], ((index + 1) % size) as u64, size as u64, &proof, &root));
                    let mut bad = proof.clone();
                    bad[0][0] ^= 1;
                    assert!(!verify_inclusion(&leaves[index], index as u64, size as u64, &bad, &root));
                }
            }
        }
    }

    #[test]
    fn known_rfc6962_roots() {
        // Empty tree hash and a two-leaf tree, computed by hand from the definitions.
        assert_eq!(hex::encode(tree_hash(&[])), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        let (a, b) = (leaf_hash(b""), leaf_hash(b"\x00"));
        assert_eq!(hex::encode(a), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
        assert_eq!(tree_hash(&[a, b]), node_hash(&a, &b));
    }

    #[test]
    fn pae_round_trips() {
        let message = pae("application/vnd.in-toto+json", b"{\"a\": 1} with spaces");
        let (t, p) = parse_pae(&message).unwrap();
        assert_eq!((t.as_str(), p), ("application/vnd.in-toto+json", &b"{\"a\": 1} with spaces"[..]));
        assert!(parse_pae(b"DSSEv1 3 abc 5 xy").is_err());
        assert!(parse_pae(b"not a pae").is_err());
    }

    #[test]
    fn checkpoint_parses_what_the_log_writes() {
        let log = Log::new();
        let entry = log.append(b"x".to_vec(), 1);
        let cp = parse_checkpoint(&entry.checkpoint).unwrap();
        assert_eq!((cp.size, cp.root.as_slice(), cp.key_hint), (1, &entry.root_hash[..], log.log_id[..4].try_into().unwrap()));
        assert!(cp.note.ends_with("\n") && !cp.note.ends_with("\n\n"));
    }
}
