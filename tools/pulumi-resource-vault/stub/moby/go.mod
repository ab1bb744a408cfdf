module github.com/moby/moby

go 1.26
