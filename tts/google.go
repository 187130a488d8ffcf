package tts

import (
	"context"
	"fmt"
	"strings"

	texttospeech "cloud.google.com/go/texttospeech/apiv1"
	"cloud.google.com/go/texttospeech/apiv1/texttospeechpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Google synthesises with Google Cloud Text-to-Speech.
type Google struct {
	client *texttospeech.Client
	// Voices maps a language ("en") to a voice name ("en-US-Standard-C").
	Voices map[string]string
}

// GoogleOptions select the endpoint and credentials.
type GoogleOptions struct {
	// CredentialsFile is a service-account JSON file. Empty with an Endpoint:
	// plain gRPC without authentication (a local or private server).
	CredentialsFile string
	// Endpoint is host:port; empty: Google's.
	Endpoint string
	Voices   map[string]string
}

// NewGoogle connects a Text-to-Speech client.
func NewGoogle(ctx context.Context, o GoogleOptions) (*Google, error) {
	var opts []option.ClientOption
	if o.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(o.Endpoint))
	}
	switch {
	case o.CredentialsFile != "":
		opts = append(opts, option.WithCredentialsFile(o.CredentialsFile))
	case o.Endpoint != "":
		opts = append(opts, option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	}
	c, err := texttospeech.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect Google Text-to-Speech: %w", err)
	}
	return &Google{client: c, Voices: o.Voices}, nil
}

// Close releases the connection.
func (g *Google) Close() error { return g.client.Close() }

// Synthesize asks for LINEAR16 at 8 kHz; the API answers a WAV file.
func (g *Google) Synthesize(ctx context.Context, r Request) ([]byte, error) {
	if r.Text == "" {
		return nil, ErrEmptyText
	}
	voice := r.Voice
	if voice == "" {
		voice = g.Voices[r.Language]
	}
	lang := r.Language
	if voice != "" {
		// A voice name starts with its language code: es-ES-Standard-A.
		if p := strings.SplitN(voice, "-", 3); len(p) >= 2 {
			lang = p[0] + "-" + p[1]
		}
	}
	resp, err := g.client.SynthesizeSpeech(ctx, &texttospeechpb.SynthesizeSpeechRequest{
		Input: &texttospeechpb.SynthesisInput{InputSource: &texttospeechpb.SynthesisInput_Text{Text: r.Text}},
		Voice: &texttospeechpb.VoiceSelectionParams{LanguageCode: lang, Name: voice},
		AudioConfig: &texttospeechpb.AudioConfig{
			AudioEncoding:   texttospeechpb.AudioEncoding_LINEAR16,
			SampleRateHertz: SampleRate,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("synthesize speech: %w", err)
	}
	audio := resp.GetAudioContent()
	if err := CheckWAV(audio); err != nil {
		return nil, fmt.Errorf("synthesize speech: answer is not playable: %w", err)
	}
	return audio, nil
}
