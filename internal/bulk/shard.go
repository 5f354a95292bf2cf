package bulk

import (
	"fmt"
	"math/bits"
	"strconv"
)

// Shard is one of Count shards of an export, so that several machines can
// plan one export between them (Options.Shard) and Merge can put their
// outputs together. Shard Index holds the patients whose patient id
// hashes into the Index-th of Count equal ranges of a 64-bit hash (see
// ShardOf). The zero value, like {0 1}, is the whole export.
//
// Every shard reads the whole export. It files and plans only its own
// patients' resources, keeps every shared Medication (any of its patients
// may reference one), and checks every resource id for repeats. What
// belongs to no patient — bad lines, resources without a patient, shared
// resources and their repeats, truncated or unreadable files — is counted
// and reported by shard 0 alone, so the shards' counts add up to those of
// a run over the whole export.
type Shard struct {
	Index, Count int
}

// String returns "Index/Count".
func (s Shard) String() string { return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Count) }

// normalize returns s with Count ≥ 1, or an error when s names no shard.
func (s Shard) normalize() (Shard, error) {
	switch {
	case s.Count == 0 && s.Index == 0:
		return Shard{0, 1}, nil
	case s.Count < 1:
		return s, fmt.Errorf("shard count %d: must be at least 1", s.Count)
	case s.Index < 0 || s.Index >= s.Count:
		return s, fmt.Errorf("shard index %d: must be from 0 to %d (the count less one)", s.Index, s.Count-1)
	}
	return s, nil
}

// ShardOf returns the shard, of n ≥ 1, that holds the patient with the id
// (the id of the Patient resource; other resources name it in their
// subject or patient reference). With h = patientHash(id) = mix(FNV-1a-64(id))
// it is the i with
//
//	i·2⁶⁴/n ≤ h < (i+1)·2⁶⁴/n
//
// where mix is the 64-bit finaliser of MurmurHash3 (fmix64). Neither
// function has a seed and the id is read as its UTF-8 bytes, so a patient
// is in the same shard in every process and on every machine.
func ShardOf(id string, n int) int { return shardOfHash(patientHash([]byte(id)), n) }

// shardOfHash maps a patient-id hash (patientHash) to its shard: the high
// word of hash·n.
func shardOfHash(hash uint64, n int) int {
	hi, _ := bits.Mul64(hash, uint64(n))
	return int(hi)
}

// mix64 is the finaliser of MurmurHash3 (fmix64): every input bit affects
// every output bit. It must not change: it places patients in shards.
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// inShard reports whether the patient with the id hash is planned by this
// run.
func (r *run) inShard(hash uint64) bool {
	return r.shard.Count == 1 || shardOfHash(hash, r.shard.Count) == r.shard.Index
}

// ownsUnfiled reports whether this run counts and reports what belongs to
// no patient: shard 0 does.
func (r *run) ownsUnfiled() bool { return r.shard.Index == 0 }
