#include "core/tasks/PatientListModel.h"

#include <algorithm>
#include <cmath>

namespace radiolens {

PatientListModel::PatientListModel(QObject* parent)
    : QAbstractTableModel(parent) {}

void PatientListModel::setBoard(std::shared_ptr<const ForecastBoard> board) {
    beginResetModel();
    m_board = std::move(board);
    endResetModel();
}

int PatientListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() || !m_board ? 0 : int(m_board->stays.size());
}

int PatientListModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QString PatientListModel::icuName(double icuType) {
    switch (int(icuType)) {
    case 1:
        return tr("coronary care");
    case 2:
        return tr("cardiac surgery");
    case 3:
        return tr("medical");
    case 4:
        return tr("surgical");
    default:
        return {};
    }
}

QVariant PatientListModel::data(const QModelIndex& index, int role) const {
    if (!m_board || !index.isValid() || index.row() >= rowCount()) {
        return {};
    }
    const PatientStay& stay = m_board->stays[std::size_t(index.row())];
    const RiskTrajectory& t = m_board->trajectories[std::size_t(index.row())];
    const double now = t.risk.empty() ? 0.0 : t.risk.back();
    const double before = t.risk.size() > 6 ? t.risk[t.risk.size() - 7] : now;
    const bool alert = std::any_of(t.risk.begin(), t.risk.end(),
                                   [this](double r) { return r >= m_board->card.alertThreshold; });
    const bool sortKey = role == Qt::UserRole;
    if (role != Qt::DisplayRole && !sortKey && role != Qt::ToolTipRole) {
        return {};
    }
    switch (index.column()) {
    case Patient:
        return QString::fromStdString(stay.id);
    case Risk:
        if (sortKey) {
            return now;
        }
        if (role == Qt::ToolTipRole) {
            return tr("Risk of in-hospital death given hours 0-%1 (band %2-%3%)")
                .arg(t.risk.size())
                .arg(100 * t.low.back(), 0, 'f', 1)
                .arg(100 * t.high.back(), 0, 'f', 1);
        }
        return QStringLiteral("%1%").arg(100 * now, 0, 'f', 1);
    case Trend:
        if (sortKey) {
            return now - before;
        }
        return QStringLiteral("%1%2")
            .arg(now >= before ? "+" : "")
            .arg(100 * (now - before), 0, 'f', 1);
    case Alert:
        if (sortKey) {
            return alert ? 1 : 0;
        }
        return alert ? tr("alert") : QString();
    case Age:
        if (std::isnan(stay.age)) {
            return sortKey ? QVariant(-1.0) : QVariant();
        }
        return sortKey ? QVariant(stay.age) : QVariant(QString::number(stay.age, 'f', 0));
    case IcuType:
        return icuName(stay.icuType);
    case Outcome:
        if (sortKey) {
            return stay.outcome;
        }
        return stay.outcome == 1 ? tr("died") : stay.outcome == 0 ? tr("survived") : QString();
    default:
        return {};
    }
}

QVariant PatientListModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) {
        return {};
    }
    switch (section) {
    case Patient:
        return tr("Patient");
    case Risk:
        return tr("Risk now");
    case Trend:
        return tr("6 h change");
    case Alert:
        return tr("Alert");
    case Age:
        return tr("Age");
    case IcuType:
        return tr("ICU");
    case Outcome:
        return tr("Outcome");
    default:
        return {};
    }
}

} // namespace radiolens
