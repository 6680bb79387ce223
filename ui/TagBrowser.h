#pragma once

#include <QString>
#include <QWidget>

#include <cstdint>

class QAbstractItemModel;
class QLabel;
class QLineEdit;
class QTreeView;

namespace radiolens {

/// A panel listing every DICOM element of one file (columns Tag, Keyword, VR, Value; sequences
/// and their items as expandable rows), with a search field. Lives in a dock or a dialog.
///
/// showFile() reads the file on a pool thread and shows the result when it arrives; a newer
/// showFile() call makes the result of an older one be dropped. A file that cannot be read shows
/// the reason in the panel's status line.
///
/// The search filters case-insensitively by tag ("(0010,0010)", "0010,0010", "00100010" or a
/// part of it), keyword or value. Rows that do not match are removed from model(), except the
/// ancestors of matches (kept and expanded, so a match inside a sequence is reachable) and the
/// contents of matching sequences and items (kept, collapsed). GUI thread only.
class TagBrowser : public QWidget {
    Q_OBJECT
public:
    enum Column { TagColumn, KeywordColumn, VrColumn, ValueColumn, ColumnCount };

    explicit TagBrowser(QWidget* parent = nullptr);
    ~TagBrowser() override;

    /// Starts reading `path` and returns at once; loaded() or loadFailed() follows. The panel is
    /// emptied until the new tree arrives. The search text is kept and applies to the new tree.
    void showFile(const QString& path);
    /// The file last passed to showFile() (shown, being read, or failed); empty at first.
    QString currentFile() const { return m_currentFile; }

    /// Status line: file name and element count, number of matches, "reading", or why the file
    /// could not be read.
    QString statusText() const;
    /// Whether the status line currently reports an error.
    bool hasError() const { return !m_error.isEmpty(); }

    /// Sets the search text (as typing in the search field does).
    void setSearchText(const QString& text);

    QLineEdit* searchField() const { return m_search; }
    QTreeView* treeView() const { return m_view; }
    /// The model the tree view shows (only the rows the search keeps).
    QAbstractItemModel* model() const;

Q_SIGNALS:
    /// A tree for `path` is now shown.
    void loaded(const QString& path);
    /// `path` could not be read; `reason` is also shown in the panel.
    void loadFailed(const QString& path, const QString& reason);

private:
    class Model;
    struct LoadResult;

    void applyResult(const QString& path, const LoadResult& result);
    void applyFilter();
    void updateStatus();

    QLineEdit* m_search = nullptr;
    QLabel* m_status = nullptr;
    QTreeView* m_view = nullptr;
    Model* m_model = nullptr;
    QString m_currentFile;
    std::uint64_t m_generation = 0; ///< counts showFile() calls; older results are dropped
    bool m_loading = false;
    QString m_error; ///< why the current file could not be read; empty when it could
};

} // namespace radiolens
