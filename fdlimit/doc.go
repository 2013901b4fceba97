// Package fdlimit raises the process's open-file limit (RLIMIT_NOFILE) to
// its hard limit and counts the descriptors in use, so that the bridge can
// refuse new work (a 503, a closed connection) before accept(2) or
// socket(2) fail with EMFILE. On systems without /proc it reports what it
// cannot know as unknown (-1).
package fdlimit
