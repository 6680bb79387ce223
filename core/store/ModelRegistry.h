#pragma once

#include "core/domain/ModelCard.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace radiolens {

class StudyStore;

/// One published model version: where its package is, what it is (its card as published) and
/// what it was trained on.
struct RegisteredModel {
    std::int64_t id = 0;
    std::string modelId;
    std::string version;
    std::string package;        ///< the package folder (card.json + weights)
    std::string cardSha256;     ///< of card.json as published
    std::string weightsSha256;  ///< of the weights (also in the card)
    std::string labelSetSha256; ///< the exact labels it was trained on (Consensus::sha256 and
                                ///< the external datasets' file hashes); empty: none recorded
    std::size_t labels = 0;     ///< labelled images it was trained on
    std::string parentVersion;  ///< the version it was fine-tuned from; empty: from scratch
    std::int64_t runId = 0;     ///< the training run that made it; 0: registered from outside
    std::int64_t createdMs = 0;
    ModelCard card;
    bool active = false; ///< the active version of its model id
};

/// One training run: started, then finished (a version published), failed, or cancelled. A
/// run still "running" whose process is gone was interrupted; it resumes from its last
/// checkpoint in `folder` when the same training is started again (same fingerprint).
struct TrainingRun {
    std::int64_t id = 0;
    std::string modelId;
    std::string fingerprint; ///< SHA-256 of the label set, external data and options
    std::string folder;      ///< its checkpoints and the package being written
    std::string out;         ///< where the package is published
    std::string state;       ///< running, finished, failed, cancelled
    std::int64_t startedMs = 0;
    std::int64_t endedMs = 0;
    int epoch = 0; ///< last checkpointed epoch
    std::string message;
    std::string version; ///< the version published (finished runs)

    /// A run still "running" whose process is gone (killed, crashed, the machine went down):
    /// no process holds the lock on `folder`/lock. Its checkpoints are kept; the same training
    /// started again goes on from the last one.
    bool interrupted() const;
};

/// The model registry in the store: every version ever published is kept with its card,
/// metrics, the hash of its exact label set and its parent; one version per model id is active
/// (what the viewer and the labelling worklist use). Activation history is append-only:
/// promote() makes a version active, rollback() goes back to the version active before.
/// Publication is atomic: the package folder is complete on disk (written elsewhere, then
/// renamed into place) before the one transaction that registers it commits, so a crash leaves
/// the registry as it was. Every change has an audit entry. Thread-safety: as StudyStore.
class ModelRegistry {
public:
    explicit ModelRegistry(StudyStore& store);

    /// Where training runs keep their checkpoints and packages by default: `models` in the
    /// database's folder.
    std::string modelsFolder() const;

    /// Registers the package in `packageDir` (its card.json read and hashed). Throws
    /// std::runtime_error naming the file when the card cannot be read, or when the same
    /// model id and version are registered already.
    RegisteredModel publish(const std::string& packageDir, const std::string& labelSetSha256,
                            std::size_t labels, std::int64_t runId, const std::string& actor);

    /// Every version of `modelId` (empty: of every model), oldest first, with `active` set.
    std::vector<RegisteredModel> versions(const std::string& modelId = {}) const;
    /// One version; nullopt when not registered.
    std::optional<RegisteredModel> find(const std::string& modelId,
                                        const std::string& version) const;
    /// The active version of `modelId`; with an empty id, the version activated most recently
    /// of any model. nullopt when none is active.
    std::optional<RegisteredModel> active(const std::string& modelId = {}) const;

    /// Makes `version` the active version of `modelId`. Throws std::runtime_error when it is
    /// not registered, or its package no longer matches what was published (verifyPackage).
    void promote(const std::string& modelId, const std::string& version, const std::string& actor);
    /// Goes back to the version that was active before the current one, and returns it.
    /// Throws std::runtime_error when there is none.
    RegisteredModel rollback(const std::string& modelId, const std::string& actor);

    /// Why `model`'s package cannot be trusted (missing, card.json changed since publication,
    /// weights not those of the card), naming the file; empty when it matches.
    static std::string verifyPackage(const RegisteredModel& model);

    // ---- training runs ------------------------------------------------------------------------
    TrainingRun startRun(const std::string& modelId, const std::string& fingerprint,
                         const std::string& folder, const std::string& out,
                         const std::string& actor);
    /// Records that run `id` has checkpointed `epoch`.
    void checkpointed(std::int64_t id, int epoch);
    /// Ends run `id`: state finished (with the version published), failed or cancelled.
    void endRun(std::int64_t id, const std::string& state, const std::string& message,
                const std::string& version, const std::string& actor);
    /// Marks a cancelled run running again (it goes on from its checkpoint).
    void reopenRun(std::int64_t id, const std::string& actor);
    /// Runs, newest first (at most `limit`; 0: all).
    std::vector<TrainingRun> runs(std::size_t limit = 0) const;
    std::optional<TrainingRun> run(std::int64_t id) const;
    /// The newest run with `fingerprint` that did not end: still marked running (interrupted,
    /// when no process is training it) or cancelled; nullopt when there is none.
    std::optional<TrainingRun> unfinishedRun(const std::string& fingerprint) const;

private:
    StudyStore& m_store;
};

} // namespace radiolens
