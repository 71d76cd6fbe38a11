// Package labtest holds the project's own lab recordings and tests that run
// every analyzer over them, together with the bundled testdata/demo.pcap,
// and assert exactly what their READMEs say a correct analyzer finds.
//
// The recordings fill the gaps of the shared corpus: it has no RTSP login,
// so testdata/ holds RTSP Basic and Digest logins recorded between ffmpeg
// and GStreamer's RTSP server by scripts/detection/record-rtsp.sh
// (README.md says what each contains). The package has no code of its own.
package labtest
