// SPDX-License-Identifier: BSD-3-Clause
// net/store_scp.cpp - rp_store_scp_*(): the Storage SCP over DCMTK's dcmnet (the one file
// that includes DCMTK's network headers).  DCMTK does the association and DIMSE work,
// one worker thread per association; each C-STORE's dataset is received straight into
// a temporary file exactly as sent (any transfer syntax the caller proposed, so
// compressed images stay as they are), read back whole to prove it is a complete
// dataset of the SOP instance the request names, committed durably by
// net/instance_store.c, recorded in the audit log, and only then answered success.
extern "C" {
#include "common/internal.h"
}
#include "net/store_scp.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmnet/diutil.h"
#include "dcmtk/dcmnet/scppool.h"
#include "dcmtk/dcmnet/scpthrd.h"
#include "dcmtk/oflog/oflog.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

// DIMSE status codes (PS3.4 B.2.3, PS3.7 C).
static const Uint16 STATUS_OUT_OF_RESOURCES = 0xA700;
static const Uint16 STATUS_DATASET_MISMATCH = 0xA900;
static const Uint16 STATUS_CANNOT_UNDERSTAND = 0xC000;

struct rp_store_scp {
	const rp_store_scp_options *o;
	std::vector<std::string> allow;
	std::atomic<bool> stop{false};
};

namespace {

// Transfer syntaxes accepted, most compact first: when a caller offers several for one
// SOP class, the image stays in the compressed form it already has.
const char *const kTransferSyntaxes[] = {
	"1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.203",
	"1.2.840.10008.1.2.4.110", "1.2.840.10008.1.2.4.111", "1.2.840.10008.1.2.4.112",
	UID_JPEGLSLosslessTransferSyntax, UID_JPEGLSLossyTransferSyntax,
	UID_JPEG2000LosslessOnlyTransferSyntax, UID_JPEG2000TransferSyntax,
	UID_JPEG2000Part2MulticomponentImageCompressionLosslessOnlyTransferSyntax,
	UID_JPEG2000Part2MulticomponentImageCompressionTransferSyntax,
	UID_JPEGProcess14SV1TransferSyntax, UID_JPEGProcess14TransferSyntax,
	UID_JPEGProcess1TransferSyntax, UID_JPEGProcess2_4TransferSyntax,
	UID_RLELosslessTransferSyntax,
	UID_MPEG2MainProfileAtMainLevelTransferSyntax, UID_MPEG2MainProfileAtHighLevelTransferSyntax,
	UID_MPEG4HighProfileLevel4_1TransferSyntax,
	UID_MPEG4BDcompatibleHighProfileLevel4_1TransferSyntax,
	UID_MPEG4HighProfileLevel4_2_For2DVideoTransferSyntax,
	UID_MPEG4HighProfileLevel4_2_For3DVideoTransferSyntax,
	UID_MPEG4StereoHighProfileLevel4_2TransferSyntax, UID_HEVCMainProfileLevel5_1TransferSyntax,
	UID_HEVCMain10ProfileLevel5_1TransferSyntax,
	"1.2.840.10008.1.2.1.98", "1.2.840.10008.1.2.8.1",
	UID_DeflatedExplicitVRLittleEndianTransferSyntax,
	UID_LittleEndianExplicitTransferSyntax, UID_BigEndianExplicitTransferSyntax,
	UID_LittleEndianImplicitTransferSyntax,
};

class StoreSCP : public DcmThreadSCP {
public:
	explicit StoreSCP(rp_store_scp *ctx) : ctx_(ctx) {}

protected:
	OFBool checkCalledAETitleAccepted(const OFString &) override
	{
		return OFTrue; // any called AE title: sites address the gateway as they like
	}

	OFBool checkCallingAETitleAccepted(const OFString &calling) override
	{
		if (ctx_->allow.empty())
			return OFTrue;
		for (const std::string &a : ctx_->allow)
			if (a == calling.c_str())
				return OFTrue;
		log_line("reject", peer().c_str(), nullptr,
			    "calling AE title not in --allow-aet");
		return OFFalse;
	}

	void notifyAssociationRequest(const T_ASC_Parameters &params,
				      DcmSCPActionType &action) override
	{
		// negotiateAssociation() needs these; DcmSCP keeps its association private.
		params_ = const_cast<T_ASC_Parameters *>(&params);
		DcmThreadSCP::notifyAssociationRequest(params, action);
	}

	// DCMTK's association profiles hold at most 128 presentation contexts, fewer than
	// there are storage SOP classes: every storage class (and Verification) is
	// accepted here directly, each with the first transfer syntax of our list that the
	// caller proposed for it.
	OFCondition negotiateAssociation() override
	{
		if (!params_)
			return DIMSE_ILLEGALASSOCIATION;
		const char *echo_xfers[] = {UID_LittleEndianExplicitTransferSyntax,
					    UID_LittleEndianImplicitTransferSyntax};
		const char *echo[] = {UID_VerificationSOPClass};
		OFCondition c = ASC_acceptContextsWithPreferredTransferSyntaxes(
			params_, echo, 1, echo_xfers, 2);
		if (c.good())
			c = ASC_acceptContextsWithPreferredTransferSyntaxes(
				params_, dcmAllStorageSOPClassUIDs, numberOfDcmAllStorageSOPClassUIDs,
				const_cast<const char **>(kTransferSyntaxes),
				(int)(sizeof(kTransferSyntaxes) / sizeof(kTransferSyntaxes[0])));
		return c;
	}

	void notifyAssociationAcknowledge() override
	{
		log_line("association", peer().c_str(), nullptr, nullptr);
	}

	OFCondition handleIncomingCommand(T_DIMSE_Message *msg,
					  const DcmPresentationContextInfo &info) override
	{
		if (msg->CommandField == DIMSE_C_STORE_RQ)
			return handleStore(msg->msg.CStoreRQ, info.presentationContextID);
		return DcmThreadSCP::handleIncomingCommand(msg, info); // C-ECHO and refusals
	}

private:
	rp_store_scp *ctx_;
	T_ASC_Parameters *params_ = nullptr;

	void log_line(const char *event, const char *peer, const char *sop, const char *reason)
	{
		rp__net_log(ctx_->o->log, ctx_->o->log_ctx, event, peer, sop, reason);
	}

	std::string peer()
	{
		return std::string(getPeerAETitle().c_str()) + "@" + getPeerIP().c_str();
	}

	// Answers and logs a refused instance; the audit gets a "failed" line.
	OFCondition refuse(T_ASC_PresentationContextID pres, T_DIMSE_C_StoreRQ &req,
			   Uint16 status, const char *reason)
	{
		log_line("store_failed", peer().c_str(), req.AffectedSOPInstanceUID,
			    reason);
		if (ctx_->o->audit) {
			rp_audit_event ev = {};
			ev.event = "failed";
			ev.sop_instance_uid = req.AffectedSOPInstanceUID;
			std::string p = peer();
			ev.peer = p.c_str();
			ev.detail = reason;
			rp_errbuf err = {""};
			// A refusal is already the answer; a failed audit write changes nothing.
			if (rp_audit_append(ctx_->o->audit, &ev, &err) != RP_OK)
				log_line("audit_failed", nullptr, nullptr, err.msg);
		}
		return sendSTOREResponse(pres, req, status);
	}

	OFCondition handleStore(T_DIMSE_C_StoreRQ &req, T_ASC_PresentationContextID pres)
	{
		const rp_store_scp_options *o = ctx_->o;
		rp_errbuf err = {""};
		char tmp[4200];
		bool have_tmp = rp__instance_tmpname(o->dir, tmp, sizeof(tmp), &err) == RP_OK;
		// The dataset must be read off the association whatever happens to it.
		OFCondition c = receiveSTORERequest(req, pres, OFString(have_tmp ? tmp : "/dev/null"));
		if (!have_tmp)
			return refuse(pres, req, STATUS_OUT_OF_RESOURCES, err.msg);
		if (c.bad()) {
			int e = errno;
			unlink(tmp);
			if (c == DIMSE_RECEIVEFAILED || c == DIMSE_READPDVFAILED ||
			    c == DUL_PEERABORTEDASSOCIATION || c == DUL_PEERREQUESTEDRELEASE ||
			    c == DIMSE_NODATAAVAILABLE) {
				log_line("store_failed", peer().c_str(),
					    req.AffectedSOPInstanceUID, c.text());
				return c; // the association is gone: nobody to answer
			}
			std::string why = std::string("cannot store the dataset: ") + c.text() +
					  (e ? std::string(" (") + strerror(e) + ")" : "");
			return refuse(pres, req, STATUS_OUT_OF_RESOURCES, why.c_str());
		}
		std::string study, sop, sop_class, problem, modality, description;
		Uint16 status = check(tmp, req, study, sop, sop_class, problem, modality,
				      description);
		if (status != STATUS_Success) {
			unlink(tmp);
			return refuse(pres, req, status, problem.c_str());
		}
		uint8_t sha[32];
		int s = rp__instance_commit(o->dir, tmp, study.c_str(), sop.c_str(), o->file_mode,
					    sha, &err);
		if (s != RP_OK)
			return refuse(pres, req,
				      s == RP_E_CORRUPT ? STATUS_CANNOT_UNDERSTAND
							: STATUS_OUT_OF_RESOURCES,
				      err.msg);
		if (o->audit) {
			std::string p = peer();
			rp_audit_event ev = {};
			ev.event = "received";
			ev.sop_instance_uid = sop.c_str();
			ev.study_uid = study.c_str();
			ev.peer = p.c_str();
			ev.sha256 = sha;
			// Success is answered only once the audit trail holds the instance.
			if (rp_audit_append(o->audit, &ev, &err) != RP_OK)
				return refuse(pres, req, STATUS_OUT_OF_RESOURCES, err.msg);
		}
		if (o->on_stored && notify(req, study, sop, sop_class, modality, description,
					   &err) != RP_OK)
			return refuse(pres, req, STATUS_OUT_OF_RESOURCES, err.msg);
		log_line("stored", peer().c_str(), sop.c_str(), nullptr);
		return sendSTOREResponse(pres, req, STATUS_Success);
	}

	int notify(const T_DIMSE_C_StoreRQ &req, const std::string &study,
		   const std::string &sop, const std::string &sop_class,
		   const std::string &modality, const std::string &description, rp_errbuf *err)
	{
		const rp_store_scp_options *o = ctx_->o;
		std::string path = std::string(o->dir) + "/" + study + "/" + sop + ".dcm";
		std::string calling = getPeerAETitle().c_str();
		rp_store_scp_instance in = {};
		in.study_uid = study.c_str();
		in.sop_uid = sop.c_str();
		in.sop_class_uid = sop_class.c_str();
		in.path = path.c_str();
		in.calling_ae = calling.c_str();
		in.modality = modality.c_str();
		in.study_description = description.c_str();
		in.priority = req.Priority == DIMSE_PRIORITY_HIGH  ? RP_DIMSE_PRIORITY_HIGH
			      : req.Priority == DIMSE_PRIORITY_LOW ? RP_DIMSE_PRIORITY_LOW
								   : RP_DIMSE_PRIORITY_MEDIUM;
		struct stat st;
		in.size = stat(path.c_str(), &st) == 0 ? (uint64_t)st.st_size : 0;
		return o->on_stored(o->on_stored_ctx, &in, err);
	}

	// Reads the received file back whole, as a PACS will: a dataset cut short, or not
	// DICOM at all, or of another instance than the request names, is refused.
	static Uint16 check(const char *path, const T_DIMSE_C_StoreRQ &req, std::string &study,
			    std::string &sop, std::string &sop_class, std::string &problem,
			    std::string &modality, std::string &description)
	{
		DcmFileFormat ff;
		OFCondition c = ff.loadFile(path);
		if (c.good())
			c = ff.loadAllDataIntoMemory();
		if (c.bad()) {
			problem = std::string("not a complete DICOM dataset: ") + c.text();
			return STATUS_CANNOT_UNDERSTAND;
		}
		DcmDataset *ds = ff.getDataset();
		OFString v;
		if (ds->findAndGetOFString(DCM_StudyInstanceUID, v).good())
			study = v.c_str();
		if (ds->findAndGetOFString(DCM_SOPInstanceUID, v).good())
			sop = v.c_str();
		if (ds->findAndGetOFString(DCM_SOPClassUID, v).good())
			sop_class = v.c_str();
		if (ds->findAndGetOFString(DCM_Modality, v).good())
			modality = v.c_str();
		if (ds->findAndGetOFString(DCM_StudyDescription, v).good())
			description = v.c_str();
		if (study.empty() || sop.empty()) {
			problem = "dataset without Study or SOP Instance UID";
			return STATUS_CANNOT_UNDERSTAND;
		}
		if (sop != req.AffectedSOPInstanceUID || sop_class != req.AffectedSOPClassUID) {
			problem = "dataset is " + sop_class + " " + sop + ", the request names " +
				  req.AffectedSOPClassUID + " " + req.AffectedSOPInstanceUID;
			return STATUS_DATASET_MISMATCH;
		}
		return STATUS_Success;
	}
};

class StorePool : public DcmBaseSCPPool {
public:
	explicit StorePool(rp_store_scp *ctx) : ctx_(ctx) {}

protected:
	struct Worker : public DcmBaseSCPPool::DcmBaseSCPWorker, private StoreSCP {
		Worker(StorePool &pool, rp_store_scp *ctx) : DcmBaseSCPWorker(pool), StoreSCP(ctx) {}
		OFCondition setSharedConfig(const DcmSharedSCPConfig &cfg) override
		{
			return StoreSCP::setSharedConfig(cfg);
		}
		OFBool busy() override { return StoreSCP::isConnected(); }
		OFCondition workerListen(T_ASC_Association *const assoc) override
		{
			return StoreSCP::run(assoc);
		}
	};

	DcmBaseSCPWorker *createSCPWorker() override
	{
		return new (std::nothrow) Worker(*this, ctx_);
	}

private:
	rp_store_scp *ctx_;
};

std::vector<std::string>
split_list(const char *s)
{
	std::vector<std::string> v;
	std::string cur;
	for (; s && *s; s++) {
		if (*s == ',') {
			if (!cur.empty())
				v.push_back(cur);
			cur.clear();
		} else if (*s != ' ') {
			cur += *s;
		}
	}
	if (!cur.empty())
		v.push_back(cur);
	return v;
}

} // namespace

extern "C" void
rp_store_scp_options_init(rp_store_scp_options *o)
{
	memset(o, 0, sizeof(*o));
	o->struct_size = sizeof(*o);
	o->ae_title = "RADPIPE";
	o->max_associations = 16;
	o->timeout_s = 60;
	o->file_mode = 0640;
}

extern "C" int
rp_store_scp_create(const rp_store_scp_options *o, rp_store_scp **ret, rp_errbuf *err)
{
	if (!o || !ret || o->struct_size != sizeof(*o))
		return rp__err(err, RP_E_INVALID_ARG, "rp_store_scp_create: bad options");
	*ret = nullptr;
	if (!o->dir)
		return rp__err(err, RP_E_INVALID_ARG, "no queue directory");
	if (!o->port)
		return rp__err(err, RP_E_INVALID_ARG, "the DICOM port must be given (1..65535)");
	size_t ae = o->ae_title ? strlen(o->ae_title) : 0;
	if (ae == 0 || ae > 16)
		return rp__err(err, RP_E_INVALID_ARG, "AE title '%s': 1 to 16 characters",
			       o->ae_title ? o->ae_title : "");
	if (o->file_mode > 0777 || (o->file_mode & 0600) != 0600)
		return rp__err(err, RP_E_INVALID_ARG, "file mode %o must include 0600",
			       o->file_mode);
	if (access(o->dir, W_OK | X_OK) != 0)
		return rp__err(err, RP_E_IO, "%s: %s", o->dir, strerror(errno));
	rp_store_scp *scp = new (std::nothrow) rp_store_scp;
	if (!scp)
		return RP_E_NOMEM;
	scp->o = o;
	scp->allow = split_list(o->allow_aets);
	*ret = scp;
	return RP_OK;
}

extern "C" int
rp_store_scp_run(rp_store_scp *scp, rp_errbuf *err)
{
	if (!scp)
		return rp__err(err, RP_E_INVALID_ARG, "rp_store_scp_run: no SCP");
	const rp_store_scp_options *o = scp->o;
	// DCMTK's own logger would print to stderr; our log lines say what matters.
	OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
	StorePool pool(scp);
	DcmSCPConfig &cfg = pool.getConfig();
	cfg.setAETitle(o->ae_title);
	cfg.setPort(o->port);
	cfg.setHostLookupEnabled(OFFalse);
	cfg.setMaxReceivePDULength(ASC_MAXIMUMPDUSIZE);
	// Non-blocking accept with a one-second timeout: the listen loop comes round to see
	// a stop request.
	cfg.setConnectionBlockingMode(DUL_NOBLOCK);
	cfg.setConnectionTimeout(1);
	Uint32 t = o->timeout_s >= 1 ? (Uint32)o->timeout_s : 1;
	cfg.setDIMSETimeout(t);
	cfg.setACSETimeout(t);
	// The profile is only DCMTK's prerequisite; negotiateAssociation() accepts.
	OFList<OFString> verification;
	verification.push_back(UID_LittleEndianExplicitTransferSyntax);
	OFCondition c = cfg.addPresentationContext(UID_VerificationSOPClass, verification);
	if (c.bad())
		return rp__err(err, RP_E_INTERNAL, "presentation contexts: %s", c.text());
	pool.setMaxThreads((Uint16)(o->max_associations ? o->max_associations : 16));
	rp__net_log(o->log, o->log_ctx, "listen", nullptr, nullptr, nullptr);
	// stop() may come from a signal handler: a watcher turns the flag into DCMTK's
	// (mutex-guarded) request.
	std::atomic<bool> done{false};
	std::thread watcher([&] {
		while (!done.load()) {
			if (scp->stop.load()) {
				pool.stopAfterCurrentAssociations();
				break;
			}
			std::this_thread::sleep_for(std::chrono::milliseconds(100));
		}
	});
	c = pool.listen();
	done.store(true);
	watcher.join();
	if (c.bad())
		return rp__err(err, RP_E_NET, "cannot listen on port %u: %s", o->port, c.text());
	return RP_OK;
}

extern "C" void
rp_store_scp_stop(rp_store_scp *scp)
{
	if (scp)
		scp->stop.store(true);
}

extern "C" void
rp_store_scp_destroy(rp_store_scp *scp)
{
	delete scp;
}
