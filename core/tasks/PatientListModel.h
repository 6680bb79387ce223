#pragma once

#include "core/tasks/ForecastService.h"

#include <QAbstractTableModel>

#include <memory>

namespace radiolens {

/// The patients of a forecast board, a row per stay: id, current risk (at the last hour), its
/// change over the last six hours, whether it ever reached the alert threshold, age, ICU type
/// and the outcome when known. Qt::UserRole holds a number to sort by (risk as 0..1). GUI
/// thread only.
class PatientListModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Patient, Risk, Trend, Alert, Age, IcuType, Outcome, ColumnCount };

    explicit PatientListModel(QObject* parent = nullptr);

    void setBoard(std::shared_ptr<const ForecastBoard> board);
    const std::shared_ptr<const ForecastBoard>& board() const { return m_board; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

    /// The ICU type's name ("medical"), or an empty string.
    static QString icuName(double icuType);

private:
    std::shared_ptr<const ForecastBoard> m_board;
};

} // namespace radiolens
