// Reads one stored value with kube-apiserver's own encryption-config code.
// usage: encread <config> <resource.group> <storage key> <file with stored bytes>
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/server/options/encryptionconfig"
	"k8s.io/apiserver/pkg/storage/value"
)

type adata string

func (a adata) AuthenticatedData() []byte { return []byte(a) }

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := encryptionconfig.LoadEncryptionConfig(ctx, os.Args[1], false, "test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	gr := schema.ParseGroupResource(os.Args[2])
	var t value.Transformer = res.Transformers[gr]
	if t == nil {
		fmt.Fprintln(os.Stderr, "no transformer for", gr)
		os.Exit(3)
	}
	data, _ := os.ReadFile(os.Args[4])
	if os.Args[5] == "read" {
		out, _, err := t.TransformFromStorage(ctx, data, adata(os.Args[3]))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
		os.Stdout.Write(out)
	} else {
		out, err := t.TransformToStorage(ctx, data, adata(os.Args[3]))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
		os.Stdout.Write(out)
	}
}
