//go:build tools

// Package tools pins Ory Hydra for build-tools.sh (`go build github.com/ory/hydra/v2`).
package tools

import _ "github.com/ory/hydra/v2"
