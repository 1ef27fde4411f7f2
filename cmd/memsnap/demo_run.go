package main

import "context"

func runDemo(ctx context.Context, a *app) error { return nil }
