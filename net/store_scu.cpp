// SPDX-License-Identifier: BSD-3-Clause
// net/store_scu.cpp - rp_store_scu_send(): delivering instances into a PACS by C-STORE
// over DCMTK's DcmStorageSCU (the one file that includes its headers).  Each instance is
// proposed in its own transfer syntax; those the PACS accepts in none of the syntaxes
// proposed are decoded by our own codecs (rp_pipeline_run, every output verified) to
// explicit VR little endian, which every PACS must accept, and sent in a second
// association.  DCMTK's own decompression is never used: it cannot decode JPEG 2000,
// HTJ2K or JPEG XL, and ours is the decoder the rest of radpipe trusts.
extern "C" {
#include "common/internal.h"
}
#include "net/store_scp.h"
#include "net/dicom_tls.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmnet/dstorscu.h"
#include "dcmtk/oflog/oflog.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

class ForwardSCU : public DcmStorageSCU {
public:
	struct Sent {
		bool request_sent;
		Uint16 status;
	};
	// By file name: what happened to each instance that DCMTK tried to send.
	std::vector<std::pair<std::string, Sent>> sent;

	OFCondition secure(DcmTransportLayer *tls) { return useSecureConnection(tls); }

protected:
	void notifySOPInstanceSent(const TransferEntry &e) override
	{
		const char *name = e.Filename.getCharPointer();
		sent.push_back({name ? name : "", {e.RequestSent != OFFalse, e.ResponseStatusCode}});
	}
};

// The SOP class and transfer syntax a file's meta header names.
bool
meta_of(const std::string &path, std::string &sop_class, std::string &ts)
{
	DcmFileFormat ff;
	if (ff.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength,
			ERM_metaOnly).bad())
		return false;
	OFString v;
	DcmMetaInfo *m = ff.getMetaInfo();
	if (m->findAndGetOFString(DCM_MediaStorageSOPClassUID, v).bad())
		return false;
	sop_class = v.c_str();
	if (m->findAndGetOFString(DCM_TransferSyntaxUID, v).bad())
		return false;
	ts = v.c_str();
	return true;
}

bool
dimse_ok(Uint16 s)
{
	// Success, and the warnings that still mean "stored" (PS3.4 B.2.3).
	return s == 0x0000 || s == 0xB000 || s == 0xB006 || s == 0xB007;
}

struct Pending {
	std::string path;            // file to send (the original or its decoded copy)
	rp_store_result *result;
	bool decoded;
};

// One association: sends every pending entry, fills its result, and returns those the
// PACS accepted in no proposed syntax.  false when the association itself failed.
bool
send_once(const rp_store_scu_options *o, DcmTransportLayer *tls, std::vector<Pending> &todo,
	  std::vector<Pending> &refused_syntax, std::string &why)
{
	ForwardSCU scu;
	Uint32 t = o->timeout_s >= 1 ? (Uint32)o->timeout_s : 1;
	scu.setAETitle(o->calling_ae);
	scu.setPeerAETitle(o->called_ae);
	scu.setPeerHostName(o->host);
	scu.setPeerPort(o->port);
	scu.setMaxReceivePDULength(ASC_MAXIMUMPDUSIZE);
	scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
	scu.setDIMSETimeout(t);
	scu.setACSETimeout(t);
	scu.setConnectionTimeout((Sint32)t);
	scu.setDecompressionMode(DcmStorageSCU::DM_never);
	scu.setHaltOnUnsuccessfulStoreMode(OFFalse);
	scu.setHaltOnInvalidFileMode(OFFalse);
	std::vector<Pending *> added;
	for (Pending &p : todo) {
		OFCondition c = scu.addDicomFile(p.path.c_str(), ERM_fileOnly, OFTrue);
		if (c.bad()) {
			p.result->status = RP_E_CORRUPT;
			snprintf(p.result->message, sizeof(p.result->message), "cannot send: %s",
				 c.text());
			continue;
		}
		added.push_back(&p);
	}
	if (added.empty())
		return true;
	OFCondition c = scu.addPresentationContexts();
	if (c.good())
		c = scu.initNetwork();
	// DCMTK sets the layer into the network that initNetwork made.
	if (c.good() && tls)
		c = scu.secure(tls);
	if (c.good())
		c = scu.negotiateAssociation();
	if (c.bad()) {
		why = std::string("association with ") + o->called_ae + "@" + o->host + ":" +
		      std::to_string(o->port) + ": " + c.text();
		for (Pending *p : added) {
			p->result->status = RP_E_NET;
			snprintf(p->result->message, sizeof(p->result->message), "%s", why.c_str());
		}
		return false;
	}
	c = scu.sendSOPInstances();
	OFCondition assoc = c;
	// Which instances found no accepted context is known only while the association is
	// up.
	std::vector<bool> no_context;
	for (Pending *p : added) {
		std::string cls, ts;
		no_context.push_back(meta_of(p->path, cls, ts) &&
				     scu.findPresentationContextID(cls.c_str(), ts.c_str()) == 0);
	}
	if (scu.isConnected())
		(void)scu.releaseAssociation();
	for (size_t i = 0; i < added.size(); i++) {
		Pending *p = added[i];
		rp_store_result *r = p->result;
		r->decoded = p->decoded;
		const ForwardSCU::Sent *e = nullptr;
		for (const auto &s : scu.sent)
			if (s.first == p->path)
				e = &s.second;
		if (e && e->request_sent) {
			r->dimse_status = e->status;
			r->status = dimse_ok(e->status)              ? RP_OK
				    : (e->status & 0xFF00) == 0xA700 ? RP_E_NOSPACE
								     : RP_E_PROTOCOL;
			if (r->status != RP_OK)
				snprintf(r->message, sizeof(r->message),
					 "the PACS answered C-STORE status 0x%04X", e->status);
			else
				r->message[0] = 0;
		} else if (no_context[i] && !p->decoded) {
			// Until the decoded copy is sent.
			r->status = RP_E_UNSUPPORTED;
			refused_syntax.push_back(*p);
		} else {
			r->status = no_context[i] ? RP_E_UNSUPPORTED : RP_E_NET;
			snprintf(r->message, sizeof(r->message), "%s",
				 no_context[i]  ? "the PACS accepts this SOP class in no syntax offered"
				 : assoc.bad() ? assoc.text()
					       : "not sent");
		}
	}
	// The association failed if something went unsent for another reason than syntax.
	bool lost = false;
	for (Pending *p : added)
		lost = lost || p->result->status == RP_E_NET;
	if (lost) {
		why = std::string("sending to ") + o->called_ae + ": " + assoc.text();
		return false;
	}
	return true;
}

// Decodes the refused instances to explicit VR little endian under scratch, in place
// of the originals in the list; those that cannot be decoded get their result.
void
decode_refused(const rp_store_scu_options *o, std::vector<Pending> &refused,
	       const std::string &scratch)
{
	std::vector<std::string> outs(refused.size());
	std::vector<rp_pipeline_file> files(refused.size());
	for (size_t i = 0; i < refused.size(); i++) {
		outs[i] = scratch + "/" + std::to_string(i) + ".dcm";
		memset(&files[i], 0, sizeof(files[i]));
		files[i].input = refused[i].path.c_str();
		files[i].output = outs[i].c_str();
	}
	rp_pipeline_options po;
	rp_pipeline_options_init(&po);
	po.encoder.codec = RP_CODEC_NATIVE;
	po.decompress = 1;
	rp_errbuf err = {""};
	// Each file's own status below says what failed.
	if (rp_pipeline_run(&po, files.data(), files.size(), nullptr, &err) != RP_OK)
		rp__net_log(o->log, o->log_ctx, "decode_failed", nullptr, nullptr, err.msg);
	std::vector<Pending> ok;
	for (size_t i = 0; i < refused.size(); i++) {
		if (files[i].status != RP_OK) {
			refused[i].result->status = files[i].status;
			snprintf(refused[i].result->message, sizeof(refused[i].result->message),
				 "the PACS refused its transfer syntax and decoding failed: %s",
				 files[i].message);
			continue;
		}
		ok.push_back({outs[i], refused[i].result, true});
	}
	refused.swap(ok);
}

void
audit_results(const rp_store_scu_options *o, const char *const *paths, size_t count,
	      rp_store_result *results)
{
	std::string peer = std::string(o->called_ae) + "@" + o->host + ":" + std::to_string(o->port);
	for (size_t i = 0; i < count; i++) {
		rp_store_result *r = &results[i];
		rp__net_log(o->log, o->log_ctx, r->status == RP_OK ? "delivered" : "deliver_failed",
			    peer.c_str(), paths[i], r->status == RP_OK ? nullptr : r->message);
		if (!o->audit)
			continue;
		uint8_t sha[32];
		rp_errbuf err = {""};
		bool have_sha = rp__file_sha256(paths[i], sha, &err) == RP_OK;
		rp_audit_event ev = {};
		ev.event = r->status == RP_OK ? "delivered" : "failed";
		ev.peer = peer.c_str();
		ev.sha256 = have_sha ? sha : nullptr;
		ev.detail = r->status == RP_OK ? (r->decoded ? "sent decoded to explicit VR "
								  "little endian" : nullptr)
					      : r->message;
		std::string sop = paths[i];
		size_t slash = sop.rfind('/');
		if (slash != std::string::npos)
			sop = sop.substr(slash + 1);
		if (sop.size() > 4 && sop.compare(sop.size() - 4, 4, ".dcm") == 0)
			sop.resize(sop.size() - 4);
		ev.sop_instance_uid = rp__uid_is_safe(sop.c_str()) ? sop.c_str() : nullptr;
		// For the ATNA message: the file's own UIDs (elements past 4 KB are not read).
		DcmFileFormat ff;
		OFString cls, study, inst;
		if (ff.loadFile(paths[i]).good()) {
			DcmDataset *ds = ff.getDataset();
			if (ds->findAndGetOFString(DCM_SOPClassUID, cls).good())
				ev.sop_class_uid = cls.c_str();
			if (ds->findAndGetOFString(DCM_StudyInstanceUID, study).good())
				ev.study_uid = study.c_str();
			if (ds->findAndGetOFString(DCM_SOPInstanceUID, inst).good())
				ev.sop_instance_uid = inst.c_str();
		}
		ev.direction = RP_AUDIT_OUT;
		if (rp_audit_append(o->audit, &ev, &err) != RP_OK)
			rp__net_log(o->log, o->log_ctx, "audit_failed", nullptr, nullptr, err.msg);
	}
}

} // namespace

extern "C" void
rp_store_scu_options_init(rp_store_scu_options *o)
{
	memset(o, 0, sizeof(*o));
	o->struct_size = sizeof(*o);
	o->calling_ae = "RADPIPE";
	o->timeout_s = 60;
}

extern "C" int
rp_store_scu_send(const rp_store_scu_options *o, const char *const *paths, size_t count,
		  rp_store_result *results, rp_errbuf *err)
{
	if (!o || o->struct_size != sizeof(*o) || (!paths && count) || (!results && count))
		return rp__err(err, RP_E_INVALID_ARG, "rp_store_scu_send: bad arguments");
	if (!o->called_ae || !*o->called_ae || strlen(o->called_ae) > 16 || !o->host || !o->port)
		return rp__err(err, RP_E_INVALID_ARG, "the PACS needs AET@HOST:PORT");
	OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
	std::vector<Pending> todo;
	for (size_t i = 0; i < count; i++) {
		memset(&results[i], 0, sizeof(results[i]));
		results[i].status = RP_E_NET;
		results[i].dimse_status = 0xFFFF;
		todo.push_back({paths[i], &results[i], false});
	}
	DcmTransportLayer *tls = nullptr;
	if (o->tls_cert || o->tls_key) {
		rp__dicom_tls_config tc = {};
		tc.cert = o->tls_cert;
		tc.key = o->tls_key;
		tc.ca = o->tls_ca;
		tc.profile = o->tls_profile;
		tc.verify_host = o->tls_skip_host_check ? nullptr : o->host;
		int s = !o->tls_cert || !o->tls_key
				? rp__err(err, RP_E_INVALID_ARG, "DICOM TLS needs both a "
					  "certificate and its private key")
			: !o->tls_ca ? rp__err(err, RP_E_INVALID_ARG, "DICOM TLS needs the CA "
					       "bundle the PACS's certificate chains to")
				     : rp__dicom_tls_layer(&tc, &tls, err);
		if (s != RP_OK) {
			for (size_t i = 0; i < count; i++) {
				results[i].status = s;
				snprintf(results[i].message, sizeof(results[i].message), "%.150s",
					 err ? err->msg : "DICOM TLS setup failed");
			}
			return s;
		}
	}
	std::vector<Pending> refused;
	std::string why;
	bool ok = send_once(o, tls, todo, refused, why);
	if (ok && !refused.empty()) {
		std::string base = o->scratch_dir ? o->scratch_dir : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		std::string tmpl = base + "/rp-scu.XXXXXX";
		std::vector<char> dir(tmpl.begin(), tmpl.end());
		dir.push_back(0);
		if (!mkdtemp(dir.data())) {
			for (Pending &p : refused) {
				p.result->status = RP_E_IO;
				snprintf(p.result->message, sizeof(p.result->message), "%s: %s",
					 base.c_str(), strerror(errno));
			}
		} else {
			decode_refused(o, refused, dir.data());
			std::vector<Pending> still;
			ok = send_once(o, tls, refused, still, why);
			for (Pending &p : still) {
				p.result->status = RP_E_UNSUPPORTED;
				snprintf(p.result->message, sizeof(p.result->message),
					 "the PACS accepts this SOP class in no transfer syntax offered");
			}
			for (Pending &p : refused)
				unlink(p.path.c_str());
			rmdir(dir.data());
		}
	}
	rp__dicom_tls_free(tls);
	audit_results(o, paths, count, results);
	if (!ok)
		return rp__err(err, RP_E_NET, "%s", why.c_str());
	for (size_t i = 0; i < count; i++)
		if (results[i].status != RP_OK)
			return rp__err(err, results[i].status, "%s: %s", paths[i], results[i].message);
	return RP_OK;
}
