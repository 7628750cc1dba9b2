package main

import (
	_ "github.com/compose-spec/compose-go/v2/cli"
)

func main() {}
