package sqlstore

// Hooks into the group committer for the tests of package sqlstore_test.

// SetBeforeGroupCommit makes the group committer of s call f, with the
// number of batches of the group, before the COMMIT of each group; an
// error from f fails the group as a failed COMMIT would. Set it before the first SaveCardsServed call.
func SetBeforeGroupCommit(s *Store, f func(n int) error) { s.group.beforeCommit = f }

// GroupCommitStats returns the number of calls waiting to be taken by the
// committer, of group transactions written, of batches they held, and the
// largest group so far; ok is false without group commit.
func GroupCommitStats(s *Store) (waiting, groups, batches, largest int64, ok bool) {
	if s.group == nil {
		return 0, 0, 0, 0, false
	}
	g := s.group
	return g.waiting.Load(), g.groups.Load(), g.batches.Load(), g.maxSize.Load(), true
}
