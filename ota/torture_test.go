package ota

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkTorture is the torture run in the spirit of Mender's 100 updates and 200
// reboots: OTA_TORTURE_CYCLES (default 100) update cycles against a loopback repository.
// Each cycle publishes a new version (every 10th has a golden output that differs, which
// must be rejected), starts a child updater and kills it with -9 at a random moment (in 4
// cycles of 5), restarts the device side (which must come up on a good, fully verified
// bundle), runs the update again to its end, and feeds healthy sentences to commit. It
// reports the figures with b.Log. Run: go test -run '^$' -bench Torture -benchtime 1x ./ota
func BenchmarkTorture(b *testing.B) {
	cycles := 100
	if s := os.Getenv("OTA_TORTURE_CYCLES"); s != "" {
		cycles, _ = strconv.Atoi(s)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("OTA_TORTURE_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := 0; i < b.N; i++ {
		f := newFixture(b)
		u := f.updater(b)
		f.installCommitted(b, u, "1.0.0")
		start := time.Now()
		kills, restarts, rejected, installed := 0, 0, 0, 0
		killedAt := map[string]int{}
		var durations []time.Duration
		good := []string{"1.0.0"}
		for c := 1; c <= cycles; c++ {
			t0 := time.Now()
			v := fmt.Sprintf("1.%d.0", c)
			bad := c%10 == 0
			if bad {
				f.publish(b, variant(b, v, goldenDiffers(b)))
			} else {
				f.publish(b, variant(b, v, nil))
			}
			if rng.IntN(5) != 0 {
				ch := startChild(b, f, "update", "")
				delay := time.Duration(rng.Int64N(int64(6 * time.Second)))
				done := make(chan struct{})
				go func() { ch.wait("RESULT", 5*time.Minute); close(done) }()
				select {
				case <-done:
					ch.cmd.Wait()
					killedAt["(finished before the kill)"]++
				case <-time.After(delay):
					ch.kill()
					<-done
					kills++
					step := "before download"
					if len(ch.steps) > 0 {
						step = "after " + ch.steps[len(ch.steps)-1]
					}
					killedAt[step]++
				}
				restarts++
				cur := append([]string(nil), good...)
				if !bad {
					cur = append(cur, v)
				}
				bootCheck(b, f, cur...)
			}
			ch := startChild(b, f, "update", "")
			l, _ := ch.wait("RESULT", 5*time.Minute)
			ch.cmd.Wait()
			restarts++
			got := bootCheck(b, f, append(append([]string(nil), good...), v)...)
			u := f.updater(b)
			healthy(u, 10)
			switch {
			case bad && got == v:
				b.Fatalf("cycle %d: the bundle with a golden difference was installed", c)
			case bad:
				rejected++
			case got != v:
				b.Fatalf("cycle %d: ended on %s, want %s (%s)", c, got, v, l)
			default:
				installed++
				good = append(good, v)
			}
			durations = append(durations, time.Since(t0))
		}
		sort.Slice(durations, func(i, j int) bool { return durations[i] < durations[j] })
		var steps []string
		for k, n := range killedAt {
			steps = append(steps, fmt.Sprintf("%s: %d", k, n))
		}
		sort.Strings(steps)
		b.Logf("torture (seed %d): %d cycles in %s, %d kill -9, %d restarts, %d installed, %d rejected (golden differs), every restart on a verified good bundle",
			seed, cycles, time.Since(start).Round(time.Second), kills, restarts, installed, rejected)
		b.Logf("kills by step: %s", strings.Join(steps, "; "))
		if len(durations) > 0 {
			b.Logf("cycle time: median %s, max %s", durations[len(durations)/2].Round(100*time.Millisecond), durations[len(durations)-1].Round(100*time.Millisecond))
		}
		b.ReportMetric(float64(kills), "kills")
		b.ReportMetric(float64(cycles), "cycles")
	}
}
