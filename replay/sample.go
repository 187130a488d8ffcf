package replay

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"
)

// SampleOptions shape a generated sample file.
type SampleOptions struct {
	Lines    int
	Accounts int           // default 1000
	Start    time.Time     // default 2025-03-01T00:00:00Z
	Span     time.Duration // default 30 days
	Seed     uint64
}

// honest destinations (E.164 prefixes of countries customers usually call)
// and the premium-rate ranges a fraudster pumps.
var (
	sampleHonest = []string{"+3491", "+3493", "+44207", "+33142", "+4930", "+1212"}
	sampleFraud  = []string{"+881", "+37745", "+23762", "+96279"}
)

// WriteSample writes a deterministic file of JSON lines for benchmarks and
// examples: accounts that onboard on their first call and pass, then mostly
// call a few honest destinations (label legit); one call in fifty is an
// attacker on a random account dialling premium-rate ranges and failing
// verification (label attack, scenario toll-fraud). Honest calls go to
// about 40 numbers per account, as a customer's do; attack numbers are
// random within the ranges.
func WriteSample(w io.Writer, o SampleOptions) error {
	if o.Accounts <= 0 {
		o.Accounts = 1000
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.Span <= 0 {
		o.Span = 30 * 24 * time.Hour
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x7466707372706c79))
	bw := bufio.NewWriterSize(w, 1<<16)
	step := o.Span / time.Duration(max(o.Lines, 1))
	b := make([]byte, 0, 512)
	for i := 0; i < o.Lines; i++ {
		t := o.Start.Add(time.Duration(i) * step)
		acct := rng.IntN(o.Accounts)
		attack := rng.IntN(50) == 0
		var number, ivr, label, ip string
		if attack {
			number = sampleFraud[rng.IntN(len(sampleFraud))] + strconv.Itoa(1000000+rng.IntN(9000000))
			ivr, label, ip = IVRFail, "attack", "10.9."+strconv.Itoa(rng.IntN(250))+".1"
		} else {
			// A customer calls the same few dozen numbers again and again.
			k := rng.IntN(40)
			number = sampleHonest[(acct+k%2)%len(sampleHonest)] + strconv.Itoa(1000000+(acct*7919+k*104729)%9000000)
			ivr, label, ip = IVRPass, "legit", "10."+strconv.Itoa(acct/250)+"."+strconv.Itoa(acct%250)+".1"
		}
		b = b[:0]
		b = append(b, `{"time":"`...)
		b = t.AppendFormat(b, time.RFC3339)
		b = append(b, `","user":"u`...)
		b = strconv.AppendInt(b, int64(acct), 10)
		b = append(b, `","domain":"pbx`...)
		b = strconv.AppendInt(b, int64(acct%10), 10)
		b = append(b, `.example","source_ip":"`...)
		b = append(b, ip...)
		b = append(b, `","user_agent":"Asterisk PBX 20","number":"`...)
		b = append(b, number...)
		b = append(b, `","caller":"`...)
		b = strconv.AppendInt(b, int64(200+acct%50), 10)
		b = append(b, `","call_id":"s`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `","ivr":"`...)
		b = append(b, ivr...)
		b = append(b, `","label":"`...)
		b = append(b, label...)
		if attack {
			b = append(b, `","scenario":"toll-fraud`...)
		} else {
			b = append(b, `","scenario":"baseline`...)
		}
		b = append(b, "\"}\n"...)
		if _, err := bw.Write(b); err != nil {
			return fmt.Errorf("write sample: %w", err)
		}
	}
	return bw.Flush()
}
