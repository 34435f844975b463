/* SPDX-License-Identifier: BSD-3-Clause */
/* net/stat_rule.h - which studies are STAT: rules over a few DICOM attributes of an
 * instance, read with radpipe's own parser, that the gateway applies to every instance
 * it receives.  A study one of whose instances matches goes ahead of routine ones. */
#ifndef RP_NET_STAT_RULE_H
#define RP_NET_STAT_RULE_H

#include <radpipe/base.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rp__stat_rules;

/* Parses n rules.  A rule is `Keyword=glob[,Keyword=glob...]`: every term must match
 * (a study is STAT when any one rule matches).  Keywords (case-insensitive): Modality,
 * StudyDescription, SeriesDescription, BodyPartExamined, ReferringPhysicianName,
 * StationName, AccessionNumber, InstitutionName, InstitutionalDepartmentName,
 * ProtocolName, PerformedProcedureStepDescription, RequestedProcedureDescription,
 * StudyPriorityID, RequestedProcedurePriority.  A glob has `*` (any run, also empty) and
 * `?` (one character), compares ASCII letters case-insensitively and must not be empty;
 * spaces around keywords and globs are ignored.  RP_E_INVALID_ARG naming the rule and
 * the term for a rule that is not of this form; n == 0 gives rules that match nothing. */
int rp__stat_rules_parse(const char *const *rules, size_t n, struct rp__stat_rules **out,
			 struct rp_errbuf *err);

/* Whether any rule matches the Part 10 file at part10_path.  A term matches when its
 * glob matches one of the attribute's values (a multi-valued one is split at `\`), each
 * value with its padding (trailing spaces and NULs) and leading spaces removed; an
 * absent attribute is one empty value.  Only top-level attributes are read.  A file that
 * cannot be read or parsed matches nothing. */
bool rp__stat_rules_match(const struct rp__stat_rules *r, const char *part10_path);

/* NULL is a no-op. */
void rp__stat_rules_free(struct rp__stat_rules *r);

#ifdef __cplusplus
}
#endif

#endif /* RP_NET_STAT_RULE_H */
