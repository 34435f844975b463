// SPDX-License-Identifier: BSD-3-Clause
// bench/bench_micro.cc - in-process micro benchmarks (google-benchmark) of the SIMD
// kernels (every runnable table, a warm 512 KiB frame and a cold 32 MiB buffer) and of
// the bare codec call against radpipe's call on the same real CT frame, so the engine's
// overhead over the library is a number rather than a claim.
//
//   bench_micro --benchmark_filter=jpegls   (RADPIPE_CORPUS must point at the corpus)
//
// This file is the benches' adapter to CharLS: the one place outside codec/jpegls.c that
// includes its header, to call it exactly as a user of the bare library would.
#include <benchmark/benchmark.h>

#include <charls/charls.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#if __has_include("rp_buildinfo.h")
#include "rp_buildinfo.h"
#endif

extern "C" {
#include <radpipe/radpipe.h>
#include "simd/cpu.h"
#include "simd/kernels.h"
void rp__frame_to_unsigned_bits(const struct rp_image_desc *img, uint8_t *frame, size_t size);
}

namespace {

// ---------------------------------------------------------------------------------------
// Inputs

struct frame {
	rp_image_desc img{};
	std::vector<uint8_t> pixels; // canonical
	std::vector<uint8_t> file;   // the DICOM file
	std::string name;
};

[[noreturn]] void
die(const std::string &msg)
{
	std::fprintf(stderr, "bench_micro: %s\n", msg.c_str());
	std::exit(2);
}

std::string
corpus_dir()
{
	const char *env = std::getenv("RADPIPE_CORPUS");
	return env && *env ? env : "../shared/corpus";
}

frame
load_frame(const char *rel)
{
	frame f;
	f.name = rel;
	std::string path = corpus_dir() + "/" + rel;
	FILE *fp = std::fopen(path.c_str(), "rb");
	if (!fp)
		die("cannot open " + path + " (set RADPIPE_CORPUS to the corpus directory)");
	std::fseek(fp, 0, SEEK_END);
	long n = std::ftell(fp);
	std::fseek(fp, 0, SEEK_SET);
	f.file.resize(static_cast<size_t>(n));
	if (std::fread(f.file.data(), 1, f.file.size(), fp) != f.file.size())
		die("cannot read " + path);
	std::fclose(fp);
	rp_dicom *ds = nullptr;
	rp_errbuf err{};
	if (rp_dicom_parse(f.file.data(), f.file.size(), nullptr, &ds, &err) != RP_OK)
		die(path + ": " + err.msg);
	const rp_dicom_info *info = rp_dicom_get_info(ds);
	f.img = info->img;
	f.pixels.resize(rp_image_frame_size(&f.img));
	if (rp_dicom_decode_frame(ds, 0, f.pixels.data(), f.pixels.size(), &err) != RP_OK)
		die(path + ": " + err.msg);
	rp_dicom_free(ds);
	return f;
}

// Unsigned 12-bit (Philips) and signed 16-bit (GE) 512x512 CT slices.
const frame &
ct12()
{
	static frame f = load_frame("ct/dcm_qa_ct_Philips_Ingenuity_S21610/S2010/I10");
	return f;
}

const frame &
ct16s()
{
	static frame f = load_frame("ct/dcm_qa_ct_GE_HiSpeedDual/01.dcm");
	return f;
}

// ---------------------------------------------------------------------------------------
// Kernels: one benchmark per kernel x runnable table x size.

std::vector<uint8_t> &
noise(size_t bytes)
{
	static std::vector<uint8_t> buf;
	if (buf.size() < bytes + 64) {
		buf.resize(bytes + 64);
		uint32_t s = 12345;
		for (auto &b : buf) {
			s = s * 1103515245u + 12345u;
			b = static_cast<uint8_t>(s >> 16);
		}
		// Keep samples within 12 bits so the high-bit scan runs to the end.
		for (size_t i = 1; i < buf.size(); i += 2)
			buf[i] &= 0x0f;
	}
	return buf;
}

enum kernel_id { K_BSWAP16, K_MASK16, K_SEXT16, K_INTERLEAVE3, K_DEINTERLEAVE3 };

void
run_kernel(benchmark::State &state, const rp__kernels *k, kernel_id id)
{
	const size_t bytes = static_cast<size_t>(state.range(0));
	std::vector<uint8_t> &src = noise(bytes);
	std::vector<uint8_t> dst(bytes + 64);
	const size_t n16 = bytes / 2, px3 = bytes / 3;
	for (auto _ : state) {
		switch (id) {
		case K_BSWAP16: k->bswap16(dst.data(), src.data(), n16); break;
		case K_MASK16: k->mask16(dst.data(), src.data(), n16, 12); break;
		case K_SEXT16: k->sext16(dst.data(), src.data(), n16, 12); break;
		case K_INTERLEAVE3: k->interleave3_u8(dst.data(), src.data(), px3); break;
		case K_DEINTERLEAVE3: k->deinterleave3_u8(dst.data(), src.data(), px3); break;
		}
		benchmark::ClobberMemory();
	}
	state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
				static_cast<int64_t>(bytes));
	state.SetLabel(k->name);
}

// The BitsStored check on a real 12-bit CT frame: the scalar twin against the selected
// table (what codec/frame.c's rp__frame_high_bits_clean() now calls for 16-bit samples).
void
BM_high_bits_clean_scalar(benchmark::State &state)
{
	const frame &f = ct12();
	for (auto _ : state)
		benchmark::DoNotOptimize(rp__bits_clean16_scalar(f.pixels.data(), f.pixels.size() / 2,
								 f.img.bits_stored, f.img.is_signed));
	state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.pixels.size()));
}
BENCHMARK(BM_high_bits_clean_scalar);

void
BM_high_bits_clean_kernel(benchmark::State &state)
{
	const frame &f = ct12();
	const rp__kernels *k = rp__kernels_best();
	for (auto _ : state)
		benchmark::DoNotOptimize(rp__kernels_high_bits_clean16(
			k, f.pixels.data(), f.pixels.size() / 2, f.img.bits_stored, f.img.is_signed));
	state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.pixels.size()));
	state.SetLabel(k->name);
}
BENCHMARK(BM_high_bits_clean_kernel);

// ---------------------------------------------------------------------------------------
// JPEG-LS: the bare CharLS call against radpipe's.

// Bare: CharLS as a user calls it, on samples already in the form it wants (the
// unsigned bits_stored-bit pattern, 2 bytes per sample); preparing them is not timed.
void
jpegls_bare(benchmark::State &state, const frame &f)
{
	std::vector<uint8_t> in = f.pixels;
	rp__frame_to_unsigned_bits(&f.img, in.data(), in.size());
	std::vector<uint8_t> out(in.size() * 2 + 1024);
	size_t written = 0;
	for (auto _ : state) {
		charls_jpegls_encoder *enc = charls_jpegls_encoder_create();
		charls_frame_info fi{f.img.width, f.img.height, f.img.bits_stored, 1};
		const charls_jpegls_errc ok = charls_jpegls_errc{};
		charls_jpegls_errc e = charls_jpegls_encoder_set_frame_info(enc, &fi);
		if (e == ok)
			e = charls_jpegls_encoder_set_destination_buffer(enc, out.data(), out.size());
		if (e == ok)
			e = charls_jpegls_encoder_encode_from_buffer(enc, in.data(), in.size(), 0);
		if (e == ok)
			e = charls_jpegls_encoder_get_bytes_written(enc, &written);
		charls_jpegls_encoder_destroy(enc);
		if (e != ok)
			state.SkipWithError(charls_get_error_message(e));
	}
	state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.pixels.size()));
	state.counters["ratio"] = static_cast<double>(f.pixels.size()) /
				  static_cast<double>(written ? written : 1);
}

// radpipe: rp_encoder_encode() on the canonical frame (conversions included).
void
rp_encode(benchmark::State &state, const frame &f, rp_codec codec)
{
	rp_encoder_options o;
	rp_encoder_options_init(&o);
	o.codec = codec;
	rp_encoder *enc = nullptr;
	if (rp_encoder_create(&o, &enc) != RP_OK ||
	    rp_encoder_check(enc, &f.img, nullptr) != RP_OK) {
		rp_encoder_destroy(enc);
		state.SkipWithError("codec cannot take this frame");
		return;
	}
	std::vector<uint8_t> out(rp_encoder_bound(enc, &f.img));
	size_t written = 0;
	for (auto _ : state) {
		if (rp_encoder_encode(enc, &f.img, f.pixels.data(), f.pixels.size(), out.data(),
				      out.size(), &written, nullptr) != RP_OK)
			state.SkipWithError("encode failed");
	}
	rp_encoder_destroy(enc);
	state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.pixels.size()));
	state.counters["ratio"] = static_cast<double>(f.pixels.size()) /
				  static_cast<double>(written ? written : 1);
}

// The per-frame engine path: native frame -> canonical (rp_dicom_decode_frame) -> encode.
void
rp_frame_path(benchmark::State &state, const frame &f, rp_codec codec)
{
	rp_dicom *ds = nullptr;
	rp_errbuf err{};
	if (rp_dicom_parse(f.file.data(), f.file.size(), nullptr, &ds, &err) != RP_OK)
		die(err.msg);
	rp_encoder_options o;
	rp_encoder_options_init(&o);
	o.codec = codec;
	rp_encoder *enc = nullptr;
	if (rp_encoder_create(&o, &enc) != RP_OK)
		die("encoder");
	std::vector<uint8_t> canon(f.pixels.size()), out(rp_encoder_bound(enc, &f.img));
	size_t written = 0;
	for (auto _ : state) {
		if (rp_dicom_decode_frame(ds, 0, canon.data(), canon.size(), nullptr) != RP_OK ||
		    rp_encoder_encode(enc, &f.img, canon.data(), canon.size(), out.data(),
				      out.size(), &written, nullptr) != RP_OK)
			state.SkipWithError("frame path failed");
	}
	rp_encoder_destroy(enc);
	rp_dicom_free(ds);
	state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.pixels.size()));
}

void
register_all()
{
	static const struct {
		const char *name;
		kernel_id id;
	} kernels[] = {
		{ "bswap16", K_BSWAP16 },     { "mask16", K_MASK16 },
		{ "sext16", K_SEXT16 },       { "interleave3_u8", K_INTERLEAVE3 },
		{ "deinterleave3_u8", K_DEINTERLEAVE3 },
	};
	const rp_isa have = rp__isa_detected();
	for (size_t t = 0; rp__kernels_at(t); t++) {
		const rp__kernels *k = rp__kernels_at(t);
		if (k->isa > have)
			continue;
		for (const auto &kk : kernels) {
			std::string name = std::string("kernel/") + kk.name + "/" + k->name;
			benchmark::RegisterBenchmark(name.c_str(), run_kernel, k, kk.id)
				->Arg(512 * 1024)        // one CT frame: warm in L2
				->Arg(32 * 1024 * 1024); // cold: from memory
		}
	}
	const rp_codec jls = RP_CODEC_JPEGLS;
	benchmark::RegisterBenchmark("jpegls/ct12/bare_charls",
				     [](benchmark::State &s) { jpegls_bare(s, ct12()); });
	benchmark::RegisterBenchmark("jpegls/ct12/rp_encoder_encode",
				     [=](benchmark::State &s) { rp_encode(s, ct12(), jls); });
	benchmark::RegisterBenchmark("jpegls/ct12/rp_frame_path",
				     [=](benchmark::State &s) { rp_frame_path(s, ct12(), jls); });
	benchmark::RegisterBenchmark("jpegls/ct16s/bare_charls",
				     [](benchmark::State &s) { jpegls_bare(s, ct16s()); });
	benchmark::RegisterBenchmark("jpegls/ct16s/rp_encoder_encode",
				     [=](benchmark::State &s) { rp_encode(s, ct16s(), jls); });
	benchmark::RegisterBenchmark("jpegls/ct16s/rp_frame_path",
				     [=](benchmark::State &s) { rp_frame_path(s, ct16s(), jls); });
	// Every other codec this build encodes, through radpipe, for the same frame.
	for (int c = 0; rp_codec_name(static_cast<rp_codec>(c)); c++) {
		const rp_codec codec = static_cast<rp_codec>(c);
		if (codec == RP_CODEC_NATIVE || codec == RP_CODEC_DEFLATE ||
		    codec == RP_CODEC_JPEGLS || !rp_codec_can_encode(codec))
			continue;
		std::string name = std::string(rp_codec_name(codec)) + "/ct16s/rp_encoder_encode";
		benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State &s) {
			rp_encode(s, ct16s(), codec);
		});
	}
}

} // namespace

int
main(int argc, char **argv)
{
	register_all();
	benchmark::AddCustomContext("radpipe", rp_version());
	benchmark::AddCustomContext("simd_selected", rp__kernels_best()->name);
	benchmark::AddCustomContext("corpus", corpus_dir());
#ifdef RP_BUILD_GIT
	benchmark::AddCustomContext("git", RP_BUILD_GIT);
	benchmark::AddCustomContext("compiler", RP_BUILD_COMPILER);
	benchmark::AddCustomContext("libs", RP_BUILD_LIBS_JSON);
#endif
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
