package tts

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// CheckWAV verifies that b is a RIFF/WAVE file of 16-bit mono PCM at
// SampleRate, the format Asterisk's format_wav plays without conversion.
func CheckWAV(b []byte) error {
	f, err := ParseWAV(b)
	if err != nil {
		return err
	}
	if f.Format != 1 || f.Channels != 1 || f.Bits != 16 || f.Rate != SampleRate {
		return fmt.Errorf("wav is format %d, %d channel(s), %d bit, %d Hz; want PCM mono 16 bit %d Hz", f.Format, f.Channels, f.Bits, f.Rate, SampleRate)
	}
	if f.DataBytes == 0 {
		return errors.New("wav has no audio")
	}
	return nil
}

// WAVInfo describes a WAV file.
type WAVInfo struct {
	Format, Channels, Bits int
	Rate                   int
	DataBytes              int
}

// Duration returns the audio length in milliseconds.
func (w WAVInfo) DurationMS() int {
	if w.Rate == 0 || w.Channels == 0 || w.Bits == 0 {
		return 0
	}
	return w.DataBytes * 1000 / (w.Rate * w.Channels * w.Bits / 8)
}

// ParseWAV reads the fmt and data chunks of a RIFF/WAVE file.
func ParseWAV(b []byte) (WAVInfo, error) {
	var w WAVInfo
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return w, errors.New("not a RIFF/WAVE file")
	}
	var haveFmt bool
	for p := 12; p+8 <= len(b); {
		id := string(b[p : p+4])
		n := int(binary.LittleEndian.Uint32(b[p+4 : p+8]))
		body := b[p+8:]
		switch id {
		case "fmt ":
			if n < 16 || len(body) < 16 {
				return w, errors.New("short fmt chunk")
			}
			w.Format = int(binary.LittleEndian.Uint16(body[0:2]))
			w.Channels = int(binary.LittleEndian.Uint16(body[2:4]))
			w.Rate = int(binary.LittleEndian.Uint32(body[4:8]))
			w.Bits = int(binary.LittleEndian.Uint16(body[14:16]))
			haveFmt = true
		case "data":
			if n > len(body) || n == 0xFFFFFFFF || n == 0x7FFFFFFF { // streamed sizes
				n = len(body)
			}
			w.DataBytes = n
			if !haveFmt {
				return w, errors.New("data chunk before fmt chunk")
			}
			return w, nil
		}
		p += 8 + n + n%2
	}
	return w, errors.New("no data chunk")
}
