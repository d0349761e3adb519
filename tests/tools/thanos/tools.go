//go:build tools

// Package tools pins Thanos for build-tools.sh.
package tools

import (
	_ "github.com/thanos-io/thanos/cmd/thanos"
)
