package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// addProfiling gives every command --cpuprofile and --memprofile, written
// for `go tool pprof`: the way to see where a benchmark's time goes.
func addProfiling(root *cobra.Command) {
	var cpuPath, memPath string
	var cpuFile *os.File
	f := root.PersistentFlags()
	f.StringVar(&cpuPath, "cpuprofile", "", "write a CPU profile of the command to this file")
	f.StringVar(&memPath, "memprofile", "", "write a heap profile (after the command) to this file")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if cpuPath == "" {
			return nil
		}
		var err error
		if cpuFile, err = os.Create(cpuPath); err != nil {
			return usage(fmt.Errorf("--cpuprofile: %w", err))
		}
		return pprof.StartCPUProfile(cpuFile)
	}
	root.PersistentPostRunE = func(*cobra.Command, []string) error {
		if cpuFile != nil {
			pprof.StopCPUProfile()
			if err := cpuFile.Close(); err != nil {
				return fmt.Errorf("--cpuprofile: %w", err)
			}
		}
		if memPath == "" {
			return nil
		}
		m, err := os.Create(memPath)
		if err != nil {
			return fmt.Errorf("--memprofile: %w", err)
		}
		runtime.GC()
		if err := pprof.WriteHeapProfile(m); err != nil {
			m.Close()
			return fmt.Errorf("--memprofile: %w", err)
		}
		return m.Close()
	}
}
