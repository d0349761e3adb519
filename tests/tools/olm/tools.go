//go:build tools

// Package tools pins operator-verify for build-tools.sh.
package tools

import _ "github.com/operator-framework/api/cmd/operator-verify"
