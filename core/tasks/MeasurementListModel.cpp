#include "core/tasks/MeasurementListModel.h"

#include "core/store/StudyStore.h"

#include <ctime>

namespace radiolens {

MeasurementListModel::MeasurementListModel(QObject* parent)
    : QAbstractTableModel(parent) {}

void MeasurementListModel::setStore(StudyStore* store) {
    m_store = store;
}

void MeasurementListModel::setVolume(std::shared_ptr<const Volume> volume) {
    beginResetModel();
    m_volume = std::move(volume);
    m_items.clear();
    if (m_volume && m_store != nullptr && !m_volume->seriesInstanceUid.empty()) {
        try {
            m_items = m_store->measurementsForSeries(m_volume->seriesInstanceUid);
        } catch (const std::exception& e) {
            endResetModel();
            Q_EMIT errorOccurred(tr("Measurements could not be read: %1").arg(e.what()));
            return;
        }
    }
    endResetModel();
}

const Measurement* MeasurementListModel::find(std::int64_t id) const {
    for (const Measurement& m : m_items) {
        if (m.id == id) {
            return &m;
        }
    }
    return nullptr;
}

MeasurementValue MeasurementListModel::value(const Measurement& m) const {
    return m_volume ? measure(*m_volume, m) : MeasurementValue{};
}

QString MeasurementListModel::valueText(const Measurement& m) const {
    return m_volume ? QString::fromStdString(describe(m, value(m), m_volume->units)) : QString();
}

std::int64_t MeasurementListModel::add(Measurement m) {
    if (m_volume) {
        m.seriesInstanceUid = m_volume->seriesInstanceUid;
        m.studyInstanceUid = m_volume->studyInstanceUid;
    }
    if (m.createdAt == 0) {
        m.createdAt = std::int64_t(std::time(nullptr));
    }
    m.id = 0;
    if (m_store != nullptr) {
        try {
            m.id = m_store->addMeasurement(m);
        } catch (const std::exception& e) {
            Q_EMIT errorOccurred(tr("The measurement could not be saved: %1").arg(e.what()));
        }
    }
    const std::int64_t listed = m.id != 0 ? m.id : m_nextUnsaved--;
    m.id = listed;
    beginInsertRows({}, int(m_items.size()), int(m_items.size()));
    m_items.push_back(m);
    endInsertRows();
    return listed > 0 ? listed : 0;
}

void MeasurementListModel::remove(std::int64_t id) {
    for (std::size_t i = 0; i < m_items.size(); ++i) {
        if (m_items[i].id != id) {
            continue;
        }
        if (id > 0 && m_store != nullptr) {
            try {
                m_store->removeMeasurement(id);
            } catch (const std::exception& e) {
                Q_EMIT errorOccurred(tr("The measurement could not be deleted: %1").arg(e.what()));
                return;
            }
        }
        beginRemoveRows({}, int(i), int(i));
        m_items.erase(m_items.begin() + std::ptrdiff_t(i));
        endRemoveRows();
        return;
    }
}

int MeasurementListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_items.size());
}

int MeasurementListModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant MeasurementListModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || std::size_t(index.row()) >= m_items.size()) {
        return {};
    }
    const Measurement& m = m_items[std::size_t(index.row())];
    if (role == IdRole) {
        return qlonglong(m.id);
    }
    if (role != Qt::DisplayRole && role != Qt::ToolTipRole) {
        return {};
    }
    switch (index.column()) {
    case KindColumn: {
        static const char* names[] = {"Distance", "Angle", "Rectangle", "Ellipse"};
        return tr(names[int(m.kind)]) + (m.id < 0 ? tr(" (not saved)") : QString());
    }
    case ValueColumn:
        return valueText(m);
    case WhereColumn: {
        const MeasurementValue v = value(m);
        if (v.slice < 0) {
            return tr("off the volume");
        }
        return tr("%1 slice %2").arg(QString::fromStdString(toString(v.plane))).arg(v.slice + 1);
    }
    case LabelColumn:
        return QString::fromStdString(m.label);
    default:
        return {};
    }
}

QVariant MeasurementListModel::headerData(int section, Qt::Orientation orientation,
                                          int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) {
        return {};
    }
    switch (section) {
    case KindColumn:
        return tr("Measurement");
    case ValueColumn:
        return tr("Value");
    case WhereColumn:
        return tr("Where");
    case LabelColumn:
        return tr("Label");
    default:
        return {};
    }
}

} // namespace radiolens
