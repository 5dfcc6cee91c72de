"""Pure RFC 6962 / RFC 9162 Merkle tree maths: hashing, roots, inclusion and consistency proofs.

Nothing here does I/O. Proof *generation* works over a `NodeReader`: a callable that returns the stored
hashes of perfect (complete) subtrees, addressed as (level, index) where the node covers leaves
[index * 2**level, (index + 1) * 2**level). A log that keeps every perfect-subtree hash (as Trillian and the
tlog-tiles logs do) can then answer any root or proof with O(log n) reads instead of rehashing leaves.

Proof *verification* follows the transparency-dev/merkle algorithms (the reference behind RFC 9162
section 2.1.3.2 and 2.1.4.2), including the subtree variants of the Merkle Tree Certificates draft, and
raises `ProofError` (an `IntegrityError`) with a human-readable reason on any failure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from dflab.errors import IntegrityError

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) per RFC 6962: the hash of the empty string

NodeKey = tuple[int, int]  # (level, index) of a perfect subtree
NodeReader = Callable[[Sequence[NodeKey]], list[bytes]]


class ProofError(IntegrityError):
    """A Merkle proof is malformed or does not verify."""


class RootMismatch(ProofError):
    """A proof is well-formed but leads to a different root than the one claimed."""


# ----------------------------------------------------------------------------------------------------------
# Hashing
# ----------------------------------------------------------------------------------------------------------


def hash_leaf(data: bytes) -> bytes:
    """SHA-256(0x00 || leaf): the domain prefix keeps a leaf from ever posing as an inner node."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """The k of RFC 6962: the largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) computed directly from all leaf hashes (reference implementation, O(n))."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    # Fold pairwise; an odd last node is carried up unchanged, which is exactly RFC 6962's
    # unbalanced split (left subtree = largest power of two, right = the rest).
    while len(level) > 1:
        nxt = [hash_children(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


# ----------------------------------------------------------------------------------------------------------
# Perfect-subtree bookkeeping (what a store keeps so proofs are O(log n) reads)
# ----------------------------------------------------------------------------------------------------------


def range_nodes(lo: int, hi: int) -> list[NodeKey]:
    """The perfect subtrees covering leaves [lo, hi), left to right.

    Valid for the ranges that appear in RFC 6962 trees (lo a multiple of the largest block), where the
    greedy decomposition into the biggest aligned power-of-two blocks is the tree's own shape.
    """
    if lo >= hi:
        raise ValueError(f"empty range [{lo}, {hi})")
    keys: list[NodeKey] = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        if lo:
            level = min(level, (lo & -lo).bit_length() - 1)  # alignment of lo limits the block size
        keys.append((level, lo >> level))
        lo += 1 << level
    return keys


def fold_range(hashes: Sequence[bytes]) -> bytes:
    """Hash of a range from its perfect subtrees (left to right): the right spine folds first."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = hash_children(h, acc)
    return acc


def range_hash(lo: int, hi: int, read: NodeReader) -> bytes:
    """MTH(D[lo:hi]) from stored perfect-subtree hashes."""
    return fold_range(read(range_nodes(lo, hi)))


def root_at(size: int, read: NodeReader) -> bytes:
    """Root of the tree of the first `size` leaves."""
    return EMPTY_ROOT if size == 0 else range_hash(0, size, read)


def new_perfect_nodes(start: int, leaf_hashes: Sequence[bytes], read: NodeReader) -> list[tuple[int, int, bytes]]:
    """Every (level, index, hash) that becomes complete when `leaf_hashes` are appended at index `start`.

    Level 0 (the leaf hashes themselves) is included. Only the left siblings still missing from the new
    batch (at most one per level, the old tree's right border) are read from the store.
    """
    out: list[tuple[int, int, bytes]] = [(0, start + i, h) for i, h in enumerate(leaf_hashes)]
    level, first, hashes = 0, start, list(leaf_hashes)
    while hashes:  # nodes [first, first + len(hashes)) at `level` are new
        if first % 2:  # the first new node is a right child: fetch its stored left sibling
            hashes = read([(level, first - 1)]) + hashes
            first -= 1
        parents = [hash_children(hashes[i], hashes[i + 1]) for i in range(0, len(hashes) - 1, 2)]
        level += 1
        first //= 2
        out.extend((level, first + i, h) for i, h in enumerate(parents))
        hashes = parents
    return out


# ----------------------------------------------------------------------------------------------------------
# Proof generation (RFC 9162 2.1.3.1 PATH and 2.1.4.1 SUBPROOF, expressed as leaf ranges)
# ----------------------------------------------------------------------------------------------------------


def inclusion_proof_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose subtree hashes form PATH(index, D[size]), bottom to top."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = largest_power_of_two_below(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo = lo + k
    ranges.reverse()  # PATH lists the sibling nearest the leaf first
    return ranges


def consistency_proof_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose subtree hashes form PROOF(old_size, D[new_size]) (RFC 9162 2.1.4.1)."""
    if not 0 < old_size <= new_size:
        raise ProofError(f"no consistency proof from size {old_size} to size {new_size} (need 0 < old <= new)")
    ranges: list[tuple[int, int]] = []
    lo, hi, m, complete = 0, new_size, old_size, True
    while True:
        if m == hi - lo:
            if not complete:
                ranges.append((lo, hi))
            break
        k = largest_power_of_two_below(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    ranges.reverse()
    return ranges


def proof_from_ranges(ranges: Sequence[tuple[int, int]], read: NodeReader) -> list[bytes]:
    """Hash every range with one batched read of all the perfect subtrees they need."""
    keys_per_range = [range_nodes(lo, hi) for lo, hi in ranges]
    flat = [k for keys in keys_per_range for k in keys]
    hashes = read(flat) if flat else []
    out, pos = [], 0
    for keys in keys_per_range:
        out.append(fold_range(hashes[pos : pos + len(keys)]))
        pos += len(keys)
    return out


def inclusion_proof(index: int, size: int, read: NodeReader) -> list[bytes]:
    return proof_from_ranges(inclusion_proof_ranges(index, size), read)


def consistency_proof(old_size: int, new_size: int, read: NodeReader) -> list[bytes]:
    return proof_from_ranges(consistency_proof_ranges(old_size, new_size), read)


def list_reader(leaf_hashes: Sequence[bytes]) -> NodeReader:
    """A NodeReader over an in-memory list of leaf hashes (tests and small trees)."""
    levels: list[list[bytes]] = [list(leaf_hashes)]
    while len(levels[-1]) > 1:
        prev = levels[-1]
        levels.append([hash_children(prev[i], prev[i + 1]) for i in range(0, len(prev) - 1, 2)])

    def read(keys: Sequence[NodeKey]) -> list[bytes]:
        return [levels[level][idx] for level, idx in keys]

    return read


# ----------------------------------------------------------------------------------------------------------
# Verification (transparency-dev/merkle proof/verify.go semantics)
# ----------------------------------------------------------------------------------------------------------


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, (bytes, bytearray)) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, (bytes, bytearray)) else type(value).__name__
        raise ProofError(f"{what} must be a {HASH_SIZE}-byte hash, got {size}")


def _check_proof(proof: Iterable[bytes]) -> list[bytes]:
    items = list(proof or [])
    for i, h in enumerate(items):
        _check_hash(h, f"proof[{i}]")
    return items


def _match(calculated: bytes, expected: bytes, what: str) -> None:
    # Roots are compared, not size-checked: a wrong-length root simply never matches (as in the reference).
    if bytes(calculated) != bytes(expected):
        raise RootMismatch(f"{what}: calculated root {calculated.hex()} does not match expected {bytes(expected).hex()}")


def _decomp_inclusion(index: int, size: int) -> tuple[int, int]:
    """Split an inclusion proof where the paths to `index` and `size - 1` diverge: (inner, border)."""
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = hash_children(seed, h) if (index >> i) & 1 == 0 else hash_children(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1:
            seed = hash_children(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = hash_children(h, seed)
    return seed


def root_from_inclusion_proof(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]) -> bytes:
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    _check_hash(leaf_hash, "leaf hash")
    proof = _check_proof(proof)
    inner, border = _decomp_inclusion(index, size)
    if len(proof) != inner + border:
        raise ProofError(f"inclusion proof has {len(proof)} hashes, a tree of size {size} needs {inner + border}")
    return _chain_border_right(_chain_inner(leaf_hash, proof[:inner], index), proof[inner:])


def verify_inclusion(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless `proof` shows leaf `index` with `leaf_hash` is in the tree (`size`, `root`)."""
    _match(root_from_inclusion_proof(index, size, leaf_hash, proof), root, "inclusion proof")


def _bit_ceil(n: int) -> int:
    return 1 if n <= 1 else 1 << (n - 1).bit_length()


def check_subtree(start: int, end: int) -> None:
    """A subtree [start, end) is valid when start is a multiple of bit_ceil(end - start) (or start == 0)."""
    if start < 0 or start > end:
        raise ProofError(f"subtree start {start} must be between 0 and end {end}")
    if start == 0 or start == end:
        return
    if start % _bit_ceil(end - start):
        raise ProofError(f"[{start}, {end}) is not a subtree: start is not a multiple of bit_ceil(end - start)")


def verify_subtree_inclusion(
    index: int, start: int, end: int, leaf_hash: bytes, proof: Sequence[bytes], subtree_root: bytes
) -> None:
    """Inclusion of leaf `index` in the subtree [start, end) with hash `subtree_root`."""
    if start >= end:
        raise ProofError(f"subtree [{start}, {end}) is empty")
    check_subtree(start, end)
    if not start <= index < end:
        raise ProofError(f"leaf index {index} is outside subtree [{start}, {end})")
    _match(root_from_inclusion_proof(index - start, end - start, leaf_hash, proof), subtree_root, "subtree inclusion")


def root_from_consistency_proof(old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes) -> bytes:
    """The new root implied by a consistency proof; raises if the proof does not match `old_root`."""
    proof = _check_proof(proof)
    if new_size < old_size:
        raise ProofError(f"new size {new_size} is smaller than old size {old_size}")
    if old_size == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    if old_size == new_size:
        if proof:
            raise ProofError("sizes are equal but the consistency proof is not empty")
        return bytes(old_root)
    if not proof:
        raise ProofError("consistency proof is empty")
    return _root_from_subtree_consistency(0, old_size, new_size, proof, old_root)


def verify_consistency(old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes) -> None:
    """Raise ProofError unless the tree (new_size, new_root) extends the tree (old_size, old_root)."""
    _match(root_from_consistency_proof(old_size, new_size, proof, old_root), new_root, "consistency proof")


def root_from_subtree_consistency_proof(
    start: int, end: int, size: int, proof: Sequence[bytes], subtree_root: bytes
) -> bytes | None:
    """Tree root implied by a subtree consistency proof; None for an (always consistent) empty subtree."""
    proof = _check_proof(proof)
    check_subtree(start, end)
    if size < end:
        raise ProofError(f"tree size {size} is smaller than subtree end {end}")
    if start == end:
        # The empty subtree is part of every tree; its hash must be the empty root and it needs no proof.
        if proof:
            raise ProofError("an empty subtree needs an empty proof")
        if subtree_root != EMPTY_ROOT:
            raise RootMismatch("an empty subtree must have the empty-tree hash")
        return None
    if start == 0 and size == end:
        if proof:
            raise ProofError("the subtree is the whole tree but the proof is not empty")
        return bytes(subtree_root)
    if not proof:
        raise ProofError("subtree consistency proof is empty")
    return _root_from_subtree_consistency(start, end, size, proof, subtree_root)


def verify_subtree_consistency(
    start: int, end: int, size: int, proof: Sequence[bytes], subtree_root: bytes, root: bytes
) -> None:
    calculated = root_from_subtree_consistency_proof(start, end, size, proof, subtree_root)
    if calculated is not None:
        _match(calculated, root, "subtree consistency proof")


def _root_from_subtree_consistency(start: int, end: int, size: int, proof: list[bytes], sub_root: bytes) -> bytes:
    if end == size:
        # The subtree sits on the right border: one left sibling per level where its ancestor is a right child.
        level = ((end - 1) ^ start).bit_length()
        want = bin(start >> level).count("1")
        if len(proof) != want:
            raise ProofError(f"subtree consistency proof has {len(proof)} hashes, needs {want}")
        return _chain_border_right(sub_root, proof)

    fork_level, border = _decomp_inclusion(end - 1, size)
    shift = ((end - start) & -(end - start)).bit_length() - 1  # height of the rightmost perfect subtree
    inner = fork_level - shift
    seed, first = proof[0], 1
    if end - start == 1 << shift:  # the subtree is perfect: its root is the seed, not in the proof
        seed, first = sub_root, 0
    if len(proof) != first + inner + border:
        raise ProofError(f"consistency proof has {len(proof)} hashes, needs {first + inner + border}")
    proof = proof[first:]
    mask = (end - 1) >> shift
    if first == 1:
        # Not perfect: the proof hashes inside the subtree must rebuild the claimed subtree root.
        height = ((end - 1) ^ start).bit_length()
        sub_inner = min(height, fork_level) - shift
        sub_border = max(0, border - bin((end - 1) >> height).count("1"))
        hash1 = _chain_inner_right(seed, proof[:sub_inner], mask)
        hash1 = _chain_border_right(hash1, proof[inner : inner + sub_border])
        _match(hash1, sub_root, "consistency proof (old tree)")
    hash2 = _chain_inner(seed, proof[:inner], mask)
    return _chain_border_right(hash2, proof[inner:])
