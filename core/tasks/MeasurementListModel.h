#pragma once

#include "core/domain/Measurement.h"
#include "core/imaging/MeasurementValues.h"
#include "core/imaging/Volume.h"

#include <QAbstractTableModel>

#include <memory>
#include <vector>

namespace radiolens {

class StudyStore;

/// The measurements of the series on screen, as a table (kind, value, where, label), kept in the
/// study store so that they come back when the study is reopened. Values are measured on the
/// volume (mm, degrees, ROI statistics in HU for CT). GUI thread only.
class MeasurementListModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { KindColumn, ValueColumn, WhereColumn, LabelColumn, ColumnCount };
    enum Role { IdRole = Qt::UserRole + 1 };

    explicit MeasurementListModel(QObject* parent = nullptr);

    /// Where measurements are kept; nullptr keeps them in memory only. Not owned.
    void setStore(StudyStore* store);
    /// Shows the measurements of `volume`'s series (from the store).
    void setVolume(std::shared_ptr<const Volume> volume);
    const std::shared_ptr<const Volume>& volume() const { return m_volume; }

    const std::vector<Measurement>& measurements() const { return m_items; }
    const Measurement* find(std::int64_t id) const;
    /// Measures `m` on the current volume.
    MeasurementValue value(const Measurement& m) const;
    QString valueText(const Measurement& m) const;

    /// Stores `m` (with the series' UIDs) and lists it; returns its id, or 0 when the store
    /// refused (errorOccurred says why; the measurement is still listed, unsaved).
    std::int64_t add(Measurement m);
    /// Deletes measurement `id` from the list and the store.
    void remove(std::int64_t id);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

Q_SIGNALS:
    void errorOccurred(const QString& message);

private:
    StudyStore* m_store = nullptr;
    std::shared_ptr<const Volume> m_volume;
    std::vector<Measurement> m_items;
    std::int64_t m_nextUnsaved = -1; ///< ids of measurements the store refused (negative)
};

} // namespace radiolens
