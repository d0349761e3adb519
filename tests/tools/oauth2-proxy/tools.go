//go:build tools

// Package tools pins oauth2-proxy for build-tools.sh.
package tools

import (
	_ "github.com/oauth2-proxy/oauth2-proxy/v7"
)
