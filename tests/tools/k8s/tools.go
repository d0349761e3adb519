//go:build tools

// Package tools pins k8s.io/kubernetes for build-tools.sh, which builds
// kube-apiserver, kube-controller-manager, kube-scheduler (and kubectl when missing)
// from this module. go.mod replaces every staging module with its published version.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
