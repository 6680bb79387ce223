#include "ui/TagBrowser.h"

#include "core/dicom/DicomTagTree.h"

#include <QAbstractItemModel>
#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QFile>
#include <QFileInfo>
#include <QFont>
#include <QFontMetrics>
#include <QFutureWatcher>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QTreeView>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <exception>
#include <memory>
#include <utility>
#include <vector>

namespace radiolens {

namespace {

/// One row of the tree: an element or a sequence item, as display text.
struct TagRow {
    QString text[TagBrowser::ColumnCount];
    QString tagDigits; ///< "00100010" for "(0010,0010)"; empty for items
    int parent = -1;   ///< index of the parent row, -1 at the top level
    std::vector<int> children;
};

/// The whole tree, flattened depth first (a parent always comes before its children).
/// Immutable once built; built on a pool thread, shared with the GUI thread.
struct TagRows {
    std::vector<TagRow> rows;
    std::vector<int> roots;
    int elements = 0; ///< rows that are elements (not items)
};

void flatten(const std::vector<DicomTagNode>& nodes, int parent, TagRows& out,
             std::vector<int>& siblings) {
    siblings.reserve(nodes.size());
    for (const DicomTagNode& node : nodes) {
        const int id = int(out.rows.size());
        out.rows.emplace_back();
        TagRow& row = out.rows.back();
        row.text[TagBrowser::TagColumn] = QString::fromStdString(node.tag);
        row.text[TagBrowser::KeywordColumn] = QString::fromStdString(node.keyword);
        row.text[TagBrowser::VrColumn] = QString::fromStdString(node.vr);
        row.text[TagBrowser::ValueColumn] = QString::fromStdString(node.value);
        if (node.tag.size() == 11 && node.tag.front() == '(') {
            row.tagDigits = QString::fromStdString(node.tag.substr(1, 4) + node.tag.substr(6, 4));
        }
        row.parent = parent;
        if (!node.vr.empty()) {
            ++out.elements;
        }
        siblings.push_back(id);
        std::vector<int> children;
        flatten(node.children, id, out, children); // may reallocate out.rows: no `row` below
        out.rows[std::size_t(id)].children = std::move(children);
    }
}

/// `text` without the characters people type around tag numbers: "(0010, 0010)" -> "00100010".
QString withoutTagPunctuation(QString text) {
    text.remove(QLatin1Char('('));
    text.remove(QLatin1Char(')'));
    text.remove(QLatin1Char(','));
    text.remove(QLatin1Char(' '));
    return text;
}

} // namespace

struct TagBrowser::LoadResult {
    std::shared_ptr<const TagRows> rows;
    QString error;
};

/// The rows of a TagRows the search keeps. Changing the search resets the model (cheaper than
/// row-by-row updates for a few thousand rows; the browser restores expansion and selection).
class TagBrowser::Model : public QAbstractItemModel {
public:
    using QAbstractItemModel::QAbstractItemModel;

    /// Shows `rows` (may be null: empty) filtered by `query` (empty: everything).
    void set(std::shared_ptr<const TagRows> rows, const QString& query) {
        beginResetModel();
        m_rows = std::move(rows);
        m_query = query;
        recompute();
        endResetModel();
    }
    const std::shared_ptr<const TagRows>& rows() const { return m_rows; }
    bool filtering() const { return !m_query.isEmpty(); }
    int matchCount() const { return m_matches; }
    int elementCount() const { return m_rows ? m_rows->elements : 0; }

    /// Rows with a match below them: the ones to expand.
    std::vector<int> ancestorsOfMatches() const {
        std::vector<int> out;
        for (std::size_t i = 0; i < m_matchBelow.size(); ++i) {
            if (m_matchBelow[i]) {
                out.push_back(int(i));
            }
        }
        return out;
    }
    bool isShown(int id) const {
        return id >= 0 && std::size_t(id) < m_visible.size() && m_visible[std::size_t(id)];
    }
    int idOf(const QModelIndex& index) const {
        return index.isValid() && index.model() == this ? int(index.internalId()) : -1;
    }
    QModelIndex indexOf(int id, int column = 0) const {
        if (!isShown(id)) {
            return {};
        }
        return createIndex(m_visibleRow[std::size_t(id)], column, quintptr(id));
    }
    int parentOf(int id) const { return m_rows->rows[std::size_t(id)].parent; }
    QString rowText(int id) const {
        const TagRow& row = m_rows->rows[std::size_t(id)];
        QStringList parts;
        for (const QString& text : row.text) {
            parts << text;
        }
        return parts.join(QLatin1Char('\t'));
    }

    QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override {
        if (column < 0 || column >= ColumnCount || row < 0 || parent.column() > 0) {
            return {};
        }
        const std::vector<int>& list = childrenOf(parent);
        if (std::size_t(row) >= list.size()) {
            return {};
        }
        return createIndex(row, column, quintptr(list[std::size_t(row)]));
    }
    QModelIndex parent(const QModelIndex& child) const override {
        const int id = idOf(child);
        if (id < 0) {
            return {};
        }
        return indexOf(parentOf(id));
    }
    int rowCount(const QModelIndex& parent = {}) const override {
        if (parent.column() > 0) {
            return 0;
        }
        return int(childrenOf(parent).size());
    }
    int columnCount(const QModelIndex& = {}) const override { return ColumnCount; }

    QVariant data(const QModelIndex& index, int role) const override {
        const int id = idOf(index);
        if (id < 0) {
            return {};
        }
        const TagRow& row = m_rows->rows[std::size_t(id)];
        switch (role) {
        case Qt::DisplayRole:
            return row.text[index.column()];
        case Qt::ToolTipRole:
            return index.column() == ValueColumn && !row.text[ValueColumn].isEmpty()
                       ? QVariant(row.text[ValueColumn])
                       : QVariant();
        case Qt::FontRole:
            if (filtering() && m_match[std::size_t(id)]) {
                QFont font;
                font.setBold(true);
                return font;
            }
            return {};
        default:
            return {};
        }
    }
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override {
        if (orientation != Qt::Horizontal || role != Qt::DisplayRole) {
            return {};
        }
        switch (section) {
        case TagColumn:
            return TagBrowser::tr("Tag");
        case KeywordColumn:
            return TagBrowser::tr("Keyword");
        case VrColumn:
            return TagBrowser::tr("VR");
        case ValueColumn:
            return TagBrowser::tr("Value");
        default:
            return {};
        }
    }

private:
    const std::vector<int>& childrenOf(const QModelIndex& parent) const {
        static const std::vector<int> none;
        if (!m_rows) {
            return none;
        }
        const int id = idOf(parent);
        return id < 0 ? m_visibleRoots : m_visibleChildren[std::size_t(id)];
    }

    bool matches(const TagRow& row, const QString& tagQuery, const QString& keywordQuery) const {
        const auto has = [](const QString& text, const QString& query) {
            return !query.isEmpty() && text.contains(query, Qt::CaseInsensitive);
        };
        return has(row.text[TagColumn], m_query) || has(row.tagDigits, tagQuery) ||
               has(row.text[KeywordColumn], m_query) ||
               has(row.text[KeywordColumn], keywordQuery) || has(row.text[ValueColumn], m_query);
    }

    void recompute() {
        const std::size_t n = m_rows ? m_rows->rows.size() : 0;
        m_match.assign(n, 0);
        m_matchBelow.assign(n, 0);
        m_visible.assign(n, m_query.isEmpty() ? 1 : 0);
        m_visibleRow.assign(n, 0);
        m_visibleChildren.assign(n, {});
        m_visibleRoots.clear();
        m_matches = 0;
        if (n == 0) {
            return;
        }
        const std::vector<TagRow>& rows = m_rows->rows;
        if (!m_query.isEmpty()) {
            const QString tagQuery = withoutTagPunctuation(m_query);
            QString keywordQuery = m_query;
            keywordQuery.remove(QLatin1Char(' '));
            // Parents come before children: one pass down marks the contents of matches...
            std::vector<char> insideMatch(n, 0);
            for (std::size_t i = 0; i < n; ++i) {
                m_match[i] = matches(rows[i], tagQuery, keywordQuery) ? 1 : 0;
                m_matches += m_match[i];
                const int p = rows[i].parent;
                insideMatch[i] = p >= 0 && (m_match[std::size_t(p)] || insideMatch[std::size_t(p)]);
            }
            // ...and one pass up keeps the ancestors of everything shown.
            for (std::size_t i = n; i-- > 0;) {
                m_visible[i] = m_visible[i] || m_match[i] || insideMatch[i];
                const int p = rows[i].parent;
                if (p >= 0) {
                    if (m_visible[i]) {
                        m_visible[std::size_t(p)] = 1;
                    }
                    if (m_match[i] || m_matchBelow[i]) {
                        m_matchBelow[std::size_t(p)] = 1;
                    }
                }
            }
        }
        const auto keep = [&](const std::vector<int>& all, std::vector<int>& shown) {
            for (int id : all) {
                if (m_visible[std::size_t(id)]) {
                    m_visibleRow[std::size_t(id)] = int(shown.size());
                    shown.push_back(id);
                }
            }
        };
        keep(m_rows->roots, m_visibleRoots);
        for (std::size_t i = 0; i < n; ++i) {
            if (m_visible[i] && !rows[i].children.empty()) {
                keep(rows[i].children, m_visibleChildren[i]);
            }
        }
    }

    std::shared_ptr<const TagRows> m_rows;
    QString m_query;
    std::vector<char> m_match;      ///< per row: matches the query
    std::vector<char> m_matchBelow; ///< per row: a descendant matches
    std::vector<char> m_visible;    ///< per row: kept by the search
    std::vector<int> m_visibleRow;  ///< per kept row: its row among its kept siblings
    std::vector<std::vector<int>> m_visibleChildren;
    std::vector<int> m_visibleRoots;
    int m_matches = 0;
};

TagBrowser::TagBrowser(QWidget* parent)
    : QWidget(parent)
    , m_search(new QLineEdit(this))
    , m_status(new QLabel(this))
    , m_view(new QTreeView(this))
    , m_model(new Model(this)) {
    m_search->setPlaceholderText(tr("Search tag, keyword or value"));
    m_search->setClearButtonEnabled(true);
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);

    m_view->setModel(m_model);
    m_view->setUniformRowHeights(true);
    m_view->setAlternatingRowColors(true);
    m_view->setAllColumnsShowFocus(true);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_view->header()->setStretchLastSection(true);
    const QFontMetrics metrics(m_view->font());
    m_view->setColumnWidth(TagColumn, metrics.horizontalAdvance(QStringLiteral("(0000,0000)")) +
                                          3 * m_view->indentation() + 24);
    m_view->setColumnWidth(
        KeywordColumn, metrics.horizontalAdvance(QStringLiteral("ReferencedSOPInstanceUID")) + 16);
    m_view->setColumnWidth(VrColumn, metrics.horizontalAdvance(QStringLiteral("VRW")) + 16);

    auto* copy = new QAction(tr("Copy"), m_view);
    copy->setShortcut(QKeySequence::Copy);
    copy->setShortcutContext(Qt::WidgetShortcut);
    m_view->addAction(copy);
    m_view->setContextMenuPolicy(Qt::ActionsContextMenu);
    connect(copy, &QAction::triggered, this, [this] {
        const int id = m_model->idOf(m_view->currentIndex());
        if (id >= 0) {
            QApplication::clipboard()->setText(m_model->rowText(id));
        }
    });

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_search);
    layout->addWidget(m_status);
    layout->addWidget(m_view, 1);

    connect(m_search, &QLineEdit::textChanged, this, &TagBrowser::applyFilter);
    updateStatus();
}

TagBrowser::~TagBrowser() = default;

QAbstractItemModel* TagBrowser::model() const {
    return m_model;
}

QString TagBrowser::statusText() const {
    return m_status->text();
}

void TagBrowser::setSearchText(const QString& text) {
    m_search->setText(text);
}

void TagBrowser::showFile(const QString& path) {
    m_currentFile = path;
    const std::uint64_t generation = ++m_generation;
    m_loading = true;
    m_error.clear();
    m_model->set(nullptr, {});
    updateStatus();

    // The watcher belongs to this widget: destroying the panel drops the pending result, and the
    // job itself touches nothing but its own copy of the path.
    auto* watcher = new QFutureWatcher<LoadResult>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, generation, path] {
        watcher->deleteLater();
        if (generation == m_generation) {
            applyResult(path, watcher->result());
        }
    });
    watcher->setFuture(QtConcurrent::run([file = QFile::encodeName(path).toStdString()] {
        LoadResult result;
        try {
            auto rows = std::make_shared<TagRows>();
            flatten(readTagTree(file), -1, *rows, rows->roots);
            result.rows = std::move(rows);
        } catch (const std::exception& e) {
            result.error = QString::fromStdString(e.what());
        } catch (...) {
            result.error = QStringLiteral("%1: unknown error").arg(QString::fromStdString(file));
        }
        return result;
    }));
}

void TagBrowser::applyResult(const QString& path, const LoadResult& result) {
    m_loading = false;
    if (!result.rows) {
        m_error = result.error.isEmpty() ? tr("unknown error") : result.error;
        m_model->set(nullptr, {});
        updateStatus();
        Q_EMIT loadFailed(path, m_error);
        return;
    }
    m_model->set(result.rows, {});
    applyFilter();
    Q_EMIT loaded(path);
}

void TagBrowser::applyFilter() {
    if (!m_error.isEmpty() || m_loading) {
        updateStatus();
        return;
    }
    const int selected = m_model->idOf(m_view->currentIndex());
    m_model->set(m_model->rows(), m_search->text().trimmed());
    // Right after a reset the view only records these (its layout is pending): cheap.
    for (int id : m_model->ancestorsOfMatches()) {
        m_view->expand(m_model->indexOf(id));
    }
    if (m_model->isShown(selected)) {
        for (int p = m_model->parentOf(selected); p >= 0; p = m_model->parentOf(p)) {
            m_view->expand(m_model->indexOf(p));
        }
        const QModelIndex index = m_model->indexOf(selected);
        m_view->setCurrentIndex(index);
        m_view->scrollTo(index);
    }
    updateStatus();
}

void TagBrowser::updateStatus() {
    m_status->setStyleSheet(m_error.isEmpty() ? QString() : QStringLiteral("color: #c62828;"));
    const QString name = QFileInfo(m_currentFile).fileName();
    if (!m_error.isEmpty()) {
        m_status->setText(tr("Cannot show the tags of this file: %1").arg(m_error));
    } else if (m_currentFile.isEmpty()) {
        m_status->setText(tr("No file"));
    } else if (m_loading) {
        m_status->setText(tr("Reading %1...").arg(name));
    } else if (m_model->filtering()) {
        m_status->setText(tr("%1: %2 of %3 elements match")
                              .arg(name)
                              .arg(m_model->matchCount())
                              .arg(m_model->elementCount()));
    } else {
        m_status->setText(tr("%1: %2 elements").arg(name).arg(m_model->elementCount()));
    }
}

} // namespace radiolens
