package tree

import (
	"strings"
	"unicode/utf8"
)

// ValidatePath checks path as ZooKeeper's PathUtils.validatePath does and
// returns CodeBadArguments if it is not a valid znode path: empty, not
// starting with '/', ending with '/' (except "/"), an empty segment, a "."
// or ".." segment, NUL, or a character in U+0001–U+001F, U+007F–U+009F,
// U+D800–U+F8FF, U+FFF0–U+FFFF, or any character outside the BMP (Java sees
// it as a surrogate pair). With sequential, path is checked as if a
// sequence number followed it (so "/a/" is a valid sequential prefix).
//
// NB: bytes that are not valid UTF-8 fail: Java decodes them to U+FFFD,
// which is in the rejected U+FFF0–U+FFFF range.
func ValidatePath(path string, sequential bool) error {
	if sequential {
		path += "1"
	}
	if !validPath(path) {
		return CodeBadArguments
	}
	return nil
}

func validPath(path string) bool {
	if path == "" || path[0] != '/' {
		return false
	}
	if len(path) == 1 {
		return true
	}
	if path[len(path)-1] == '/' {
		return false
	}
	for i := 1; i < len(path); {
		c := path[i]
		if c < utf8.RuneSelf {
			switch {
			case c == 0:
				return false
			case c == '/' && path[i-1] == '/':
				return false
			case c < 0x20 || c == 0x7f:
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(path[i:])
		if size == 1 { // invalid UTF-8: U+FFFD to Java, rejected
			return false
		}
		if r <= 0x9f || (r >= 0xd800 && r <= 0xf8ff) || r >= 0xfff0 {
			return false
		}
		i += size
	}
	// "." and ".." segments (relative paths).
	for seg := range strings.SplitSeq(path[1:], "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// isSpecialPath reports the paths ZooKeeper never lets a client delete
// (DataTree.isSpecialPath).
func isSpecialPath(path string) bool {
	switch path {
	case "/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config":
		return true
	}
	return false
}
