// Package bench measures what switchboard adds to a tool call, against the
// direct call to the same upstream measured in the same run:
//
//	go test -run '^$' -bench . -benchmem ./bench/
//
// Only ratios between benchmarks of one run mean anything on a shared machine.
package bench
