#pragma once

#include <QHash>
#include <QPixmap>
#include <QSortFilterProxyModel>

namespace radiolens {

/// The study tree as the browser shows it: filtered by the search text (patient name or ID,
/// descriptions, modality, date; a matching patient or study keeps its children, a matching
/// series its ancestors) and with a thumbnail for each series. GUI thread only.
class StudyBrowserModel : public QSortFilterProxyModel {
    Q_OBJECT
public:
    explicit StudyBrowserModel(QObject* parent = nullptr);

    void setSearchText(const QString& text);
    void setThumbnail(const QString& seriesInstanceUid, const QPixmap& picture);
    void clearThumbnails();

    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

    QString m_search;
    QHash<QString, QPixmap> m_thumbnails;
};

} // namespace radiolens
