#pragma once

#include "core/domain/Label.h"
#include "core/domain/StudyIndex.h"
#include "core/ml/Retraining.h"

#include <QFutureWatcher>
#include <QObject>
#include <QString>
#include <QStringList>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace radiolens {

class StudyStore;

/// An annotator's labelling session, for the label panel: the worklist (built in the
/// background, in date order or most uncertain first under the active model), the image being
/// labelled, its labels and the model's suggestion, labelling with undo and redo, counts per
/// class and agreement with other readers. Labels are written to the store at once, durably
/// (a few milliseconds), each with its audit entry; undo and redo add labels too, so the
/// history keeps every step. GUI thread only.
class LabellingSession : public QObject {
    Q_OBJECT
public:
    /// `store` must outlive the session; `storePath` is opened again by background work.
    explicit LabellingSession(StudyStore& store, QObject* parent = nullptr);
    ~LabellingSession() override;

    void setAnnotator(const QString& name);
    QString annotator() const { return m_annotator; }

    /// The classes to label with: the active model's, then the other classes of the store.
    QStringList classes() const;
    /// Defines a class; false (with failed()) for an empty name.
    bool addClass(const QString& name);

    /// Builds the worklist in the background (worklistReady or worklistFailed follows): the
    /// images nobody labelled, or with `secondReading` every image this annotator has not
    /// labelled. The active model classifies the images it has not seen (the ML engine is
    /// opened for it).
    void refreshWorklist(WorklistOrder order, bool secondReading = false);
    bool isBuildingWorklist() const;
    const Worklist& worklist() const { return m_worklist; }

    /// Reads the registry again (after a promotion or rollback): the active model's classes
    /// and suggestions.
    void activeModelChanged();

    /// The image being labelled. setCurrent() takes worklist item `index`; setCurrentImage()
    /// an image the reader opened (its suggestion comes from the store when the active model
    /// has seen it).
    void setCurrent(int index);
    void setCurrentImage(const InstanceRecord& image);
    bool hasCurrent() const { return m_current.has_value(); }
    const InstanceRecord& current() const { return *m_current; }
    int currentIndex() const { return m_position; }
    /// The worklist item after (or before) the current one that this annotator has not
    /// labelled yet; -1 when there is none.
    int nextUnlabelled(int step = 1) const;

    /// What a label applies to: the image shown (default), its series or its study.
    void setLevel(LabelLevel level);
    LabelLevel level() const { return m_level; }

    /// The annotator's current class of the current image (or of its series or study, by
    /// level()); empty when none.
    QString currentLabel() const;
    /// Everyone's current labels of the current image (series, study).
    std::vector<Label> currentLabels() const;
    /// The active model's probabilities for the current image (its class order); empty: none.
    const std::vector<double>& suggestion() const { return m_suggestion; }
    QString suggestedClass() const;
    double suggestedProbability() const;
    QString modelName() const;

    /// Labels the current image with class `name` (a human label). False when there is no
    /// current image or the store refuses (failed() says why).
    bool label(const QString& name);
    /// Labels it with the model's suggestion, confirmed by this annotator.
    bool acceptSuggestion();
    /// Takes the annotator's label of the current image back.
    bool withdraw();
    bool canUndo() const { return !m_undo.empty(); }
    bool canRedo() const { return !m_redo.empty(); }
    bool undo();
    bool redo();

    /// Current labels per class: this annotator's and everyone's.
    std::map<std::string, std::size_t> counts(bool everyone) const;
    /// Imports labels from a CSV or JSON file (LabelFiles); returns what happened in words
    /// (rows read, imported, unchanged, skipped with the first reason).
    QString importLabels(const QString& path);
    /// Exports everyone's current labels as CSV or JSON (by the extension); returns a summary.
    QString exportLabels(const QString& path);

    /// Agreement with the other annotator who labelled most of the same images; nullopt when
    /// nobody else has.
    std::optional<Agreement> agreement() const;

Q_SIGNALS:
    void worklistReady();
    void worklistFailed(const QString& reason);
    void currentChanged();
    /// A label was added, replaced, withdrawn, undone or redone.
    void labelsChanged();
    /// The active model changed: its classes come first, suggestions are its.
    void modelChanged();
    void failed(const QString& reason);

private:
    struct Change {
        LabelLevel level = LabelLevel::Image;
        std::string item;
        Label before; ///< the annotator's label before (className empty: none)
        Label after;
    };
    bool apply(Label label, bool record);
    void loadSuggestion();
    /// Reads which model is active (its id, version and classes).
    void readActiveModel();
    /// Waits for the worklist being made, whatever its outcome.
    void waitQuietly();
    /// The UID of the current image, its series or its study, by level().
    std::string currentItem() const;

    StudyStore& m_store;
    QString m_annotator;
    Worklist m_worklist;
    QFutureWatcher<Worklist>* m_watcher = nullptr;
    std::shared_ptr<std::atomic<bool>> m_stop; ///< cancels the worklist being made
    std::optional<InstanceRecord> m_current;
    LabelLevel m_level = LabelLevel::Image;
    int m_position = -1;
    std::vector<double> m_suggestion;
    std::string m_modelId; ///< the active model; empty when none
    std::string m_modelVersion;
    std::vector<std::string> m_modelClasses;
    std::vector<Change> m_undo;
    std::vector<Change> m_redo;
};

} // namespace radiolens
