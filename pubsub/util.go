package pubsub

import "errors"

func isErr(err, target error) bool { return err != nil && errors.Is(err, target) }
