module github.com/collab-editor/collab

go 1.26

require (
	github.com/google/uuid v1.6.0
	github.com/sergi/go-diff v1.4.0
	go.etcd.io/bbolt v1.5.0
)

require golang.org/x/sys v0.45.0 // indirect
