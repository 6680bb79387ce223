#include "ui/AiPanel.h"

#include "ui/ProbabilityStrip.h"
#include "ui/Viewport.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSlider>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>

namespace radiolens {

namespace {

QString methodTitle(SaliencyMethod method) {
    switch (method) {
    case SaliencyMethod::IntegratedGradients:
        return QObject::tr("Integrated Gradients");
    case SaliencyMethod::Occlusion:
        return QObject::tr("Occlusion");
    case SaliencyMethod::GradCam:
    default:
        return QObject::tr("Grad-CAM");
    }
}

QString percent(double p) {
    return QString::number(100.0 * p, 'f', 1) + QStringLiteral(" %");
}

} // namespace

AiPanel::AiPanel(AiReadingService* service, QWidget* parent)
    : QWidget(parent)
    , m_service(service) {
    auto* layout = new QVBoxLayout(this);
    m_model = new QLabel(tr("No model loaded: Tools > Open AI Model..."));
    m_model->setWordWrap(true);
    m_model->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_model);
    m_status = new QLabel;
    m_status->setWordWrap(true);
    layout->addWidget(m_status);

    m_table = new QTableWidget(0, 3);
    m_table->setHorizontalHeaderLabels({tr("Class"), tr("Slice"), tr("Series")});
    m_table->verticalHeader()->hide();
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionMode(QAbstractItemView::NoSelection);
    m_table->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_table->setMaximumHeight(140);
    layout->addWidget(m_table);
    m_strip = new ProbabilityStrip;
    layout->addWidget(m_strip);

    auto* form = new QFormLayout;
    m_auto = new QCheckBox(tr("Classify and explain automatically"));
    m_auto->setChecked(true);
    form->addRow(m_auto);
    m_method = new QComboBox;
    m_method->addItem(tr("Grad-CAM"), int(SaliencyMethod::GradCam));
    m_method->addItem(tr("Integrated Gradients"), int(SaliencyMethod::IntegratedGradients));
    m_method->addItem(tr("Occlusion (14 x 14)"), int(SaliencyMethod::Occlusion));
    form->addRow(tr("Method"), m_method);
    m_class = new QComboBox;
    form->addRow(tr("Explain class"), m_class);
    m_colours = new QComboBox;
    m_colours->addItem(tr("Jet"), int(SaliencyColours::Jet));
    m_colours->addItem(tr("Hot"), int(SaliencyColours::Hot));
    m_colours->addItem(tr("Viridis"), int(SaliencyColours::Viridis));
    form->addRow(tr("Colours"), m_colours);
    m_opacity = new QSlider(Qt::Horizontal);
    m_opacity->setRange(0, 100);
    m_opacity->setValue(50);
    form->addRow(tr("Opacity"), m_opacity);
    m_threshold = new QSlider(Qt::Horizontal);
    m_threshold->setRange(0, 95);
    m_threshold->setValue(20);
    form->addRow(tr("Threshold"), m_threshold);
    m_show = new QCheckBox(tr("Show overlay (S)"));
    m_show->setChecked(true);
    form->addRow(m_show);
    layout->addLayout(form);
    auto* buttons = new QHBoxLayout;
    m_explain = new QPushButton(tr("Explain"));
    m_faithfulness = new QPushButton(tr("Faithfulness"));
    m_faithfulness->setToolTip(
        tr("Deletion and insertion AUC of the map: remove (or add) pixels in saliency order and "
           "follow the class probability. Lower deletion and higher insertion: a faithful map."));
    buttons->addWidget(m_explain);
    buttons->addWidget(m_faithfulness);
    layout->addLayout(buttons);
    m_faithfulnessText = new QLabel;
    m_faithfulnessText->setWordWrap(true);
    layout->addWidget(m_faithfulnessText);
    layout->addStretch(1);

    connect(m_explain, &QPushButton::clicked, this, [this] { explainNow(false); });
    connect(m_faithfulness, &QPushButton::clicked, this, [this] { explainNow(true); });
    connect(m_show, &QCheckBox::toggled, this, &AiPanel::setOverlayVisible);
    connect(m_colours, &QComboBox::currentIndexChanged, this, &AiPanel::applyStyle);
    connect(m_opacity, &QSlider::valueChanged, this, &AiPanel::applyStyle);
    connect(m_threshold, &QSlider::valueChanged, this, &AiPanel::applyStyle);
    connect(m_method, &QComboBox::currentIndexChanged, this, [this] {
        if (m_auto->isChecked() && classification()) {
            explainNow(false);
        }
    });
    connect(m_class, &QComboBox::currentIndexChanged, this, [this] {
        updateTable();
        if (m_auto->isChecked() && classification()) {
            explainNow(false);
        }
    });
    connect(m_strip, &ProbabilityStrip::sliceChosen, this, [this](int slice) {
        if (m_viewport) {
            m_viewport->setCurrentSlice(slice);
        }
    });

    connect(m_service, &AiReadingService::modelLoaded, this, &AiPanel::onModelLoaded);
    connect(m_service, &AiReadingService::modelFailed, this,
            [this](const QString& dir, const QString& reason) {
                showFailure(tr("The model in %1 cannot be used: %2").arg(dir, reason));
            });
    connect(m_service, &AiReadingService::trainingProgressed, this,
            [this](double, const QString& text) { m_status->setText(text); });
    connect(m_service, &AiReadingService::classificationProgressed, this,
            [this](const QString& key, double fraction) {
                if (m_viewport && key == m_viewport->key()) {
                    m_status->setText(tr("Classifying: %1 %").arg(int(100 * fraction)));
                }
            });
    connect(m_service, &AiReadingService::classified, this, &AiPanel::onClassified);
    connect(m_service, &AiReadingService::classificationFailed, this,
            [this](const QString& key, const QString& reason) {
                if (m_viewport && key == m_viewport->key()) {
                    showFailure(tr("Not classified: %1").arg(reason));
                }
            });
    connect(m_service, &AiReadingService::explained, this, &AiPanel::onExplained);
    connect(m_service, &AiReadingService::explanationFailed, this,
            [this](const QString& key, const QString& reason) {
                if (m_viewport && key == m_viewport->key()) {
                    showFailure(tr("No saliency map: %1").arg(reason));
                }
            });
    setEnabled(true);
}

void AiPanel::setViewport(Viewport* viewport) {
    if (m_viewport == viewport) {
        return;
    }
    if (m_viewport) {
        disconnect(m_viewport, nullptr, this, nullptr);
    }
    m_viewport = viewport;
    if (m_viewport) {
        connect(m_viewport, &Viewport::sliceChanged, this, &AiPanel::onSliceChanged);
        connect(m_viewport, &Viewport::saliencyVisibilityChanged, this, [this](bool visible) {
            const QSignalBlocker block(m_show);
            m_show->setChecked(visible);
        });
        applyStyle();
        m_viewport->setSaliencyVisible(m_show->isChecked());
    }
    updateTable();
}

void AiPanel::volumeLoaded(Viewport* viewport) {
    if (viewport == m_viewport && m_auto->isChecked() && m_service->card()) {
        classifyNow();
    }
}

void AiPanel::classifyNow() {
    if (!m_viewport || !m_viewport->volume()) {
        return;
    }
    if (!m_service->card()) {
        m_status->setText(tr("Open a model first: Tools > Open AI Model..."));
        return;
    }
    const QString refusal = m_service->refusal(*m_viewport->volume());
    if (!refusal.isEmpty()) {
        m_status->setText(tr("This series is not for this model: %1").arg(refusal));
        return;
    }
    m_status->setText(tr("Classifying..."));
    m_service->classify(m_viewport->key(), m_viewport->volume());
}

void AiPanel::explainNow(bool withFaithfulness) {
    if (!m_viewport || !m_viewport->volume() || !m_service->card()) {
        return;
    }
    if (m_viewport->plane() != PlaneKind::Native) {
        m_status->setText(tr("Saliency maps are drawn on the native slices only"));
        return;
    }
    if (!m_service->refusal(*m_viewport->volume()).isEmpty()) {
        return;
    }
    m_faithfulnessText->setText(withFaithfulness ? tr("Computing faithfulness...") : QString());
    m_service->explain(m_viewport->key(), m_viewport->volume(), m_viewport->currentSlice(),
                       explainedClass(), method(), withFaithfulness);
}

void AiPanel::setOverlayVisible(bool visible) {
    {
        const QSignalBlocker block(m_show);
        m_show->setChecked(visible);
    }
    if (m_viewport) {
        m_viewport->setSaliencyVisible(visible);
    }
}

std::shared_ptr<const AiClassification> AiPanel::classification() const {
    return m_viewport ? m_results.value(m_viewport->key()) : nullptr;
}

QStringList AiPanel::probabilityRows() const {
    QStringList rows;
    for (int r = 0; r < m_table->rowCount(); ++r) {
        QStringList cells;
        for (int c = 0; c < 3; ++c) {
            cells << (m_table->item(r, c) ? m_table->item(r, c)->text() : QString());
        }
        rows << cells.join(QLatin1Char('|'));
    }
    return rows;
}

QString AiPanel::statusText() const {
    return m_status->text();
}

QString AiPanel::faithfulnessText() const {
    return m_faithfulnessText->text();
}

int AiPanel::explainedClass() const {
    return std::max(0, m_class->currentIndex());
}

void AiPanel::setMethod(SaliencyMethod method) {
    m_method->setCurrentIndex(m_method->findData(int(method)));
}

void AiPanel::setOpacity(double opacity) {
    m_opacity->setValue(int(std::lround(opacity * 100)));
}

void AiPanel::setThreshold(double threshold) {
    m_threshold->setValue(int(std::lround(threshold * 100)));
}

SaliencyMethod AiPanel::method() const {
    return SaliencyMethod(m_method->currentData().toInt());
}

void AiPanel::onModelLoaded(std::shared_ptr<const ModelCard> card, const QString& dir) {
    QString accepts;
    for (const std::string& m : card->input.modalities) {
        accepts +=
            (accepts.isEmpty() ? QString() : QStringLiteral(", ")) + QString::fromStdString(m);
    }
    QString figures;
    for (const char* split : {"test", "validation"}) {
        const auto it = card->metrics.find(split);
        if (it != card->metrics.end()) {
            figures = tr("%1 AUC %2, accuracy %3")
                          .arg(QString::fromLatin1(split))
                          .arg(it->second.auc, 0, 'f', 3)
                          .arg(it->second.accuracy, 0, 'f', 3);
            break;
        }
    }
    m_model->setText(tr("<b>%1</b> version %2<br>%3, %4 px; accepts %5<br>%6<br>weights %7...")
                         .arg(QString::fromStdString(card->id).toHtmlEscaped(),
                              QString::fromStdString(card->version).toHtmlEscaped(),
                              QString::fromStdString(card->architecture))
                         .arg(card->input.size)
                         .arg(accepts.isEmpty() ? tr("any modality") : accepts)
                         .arg(figures)
                         .arg(QString::fromStdString(card->weightsSha256.substr(0, 12))));
    m_model->setToolTip(dir);
    {
        const QSignalBlocker block(m_class);
        m_class->clear();
        for (const std::string& name : card->classNames) {
            m_class->addItem(QString::fromStdString(name));
        }
        m_class->setCurrentIndex(card->task == "binary" && card->classNames.size() == 2 ? 1 : 0);
    }
    m_results.clear();
    m_status->setText(tr("Model ready"));
    if (m_viewport && m_viewport->volume() && m_viewport->isComplete() && m_auto->isChecked()) {
        classifyNow();
    }
    updateTable();
}

void AiPanel::onClassified(std::shared_ptr<const AiClassification> result) {
    m_results.insert(result->key, result);
    if (!m_viewport || result->key != m_viewport->key()) {
        return;
    }
    m_status->setText(tr("%n slice(s) classified in %1 s", nullptr, int(result->slices.size()))
                          .arg(result->seconds, 0, 'f', 2));
    updateTable();
    Q_EMIT resultShown();
    if (m_auto->isChecked()) {
        explainNow(false);
    }
}

void AiPanel::onExplained(std::shared_ptr<const AiExplanation> result) {
    if (!m_viewport || result->key != m_viewport->key()) {
        return;
    }
    const std::shared_ptr<const ModelCard> card = m_service->card();
    auto overlay = std::make_shared<SaliencyOverlay>();
    overlay->slice = result->slice;
    overlay->width = int(result->map.width);
    overlay->height = int(result->map.height);
    overlay->values = result->map.values;
    const QString className =
        card && std::size_t(result->map.classIndex) < card->classNames.size()
            ? QString::fromStdString(card->classNames[std::size_t(result->map.classIndex)])
            : QString::number(result->map.classIndex);
    // A flip-averaged Grad-CAM (the card asks for it) says so: it is not the textbook map.
    const QString method =
        result->map.method == SaliencyMethod::GradCam && card && card->gradCamFlipAverage
            ? tr("Grad-CAM, flip-averaged")
            : methodTitle(result->map.method);
    overlay->title = method + QStringLiteral(": ") + className;
    if (result->hasFaithfulness) {
        overlay->note = tr("deletion %1, insertion %2")
                            .arg(result->faithfulness.deletionAuc, 0, 'f', 3)
                            .arg(result->faithfulness.insertionAuc, 0, 'f', 3);
        m_faithfulnessText->setText(
            tr("Deletion AUC %1 (lower is better), insertion AUC %2 (higher is better), for %3 "
               "on slice %4")
                .arg(result->faithfulness.deletionAuc, 0, 'f', 3)
                .arg(result->faithfulness.insertionAuc, 0, 'f', 3)
                .arg(overlay->title)
                .arg(result->slice + 1));
    }
    m_viewport->setSaliency(overlay);
    Q_EMIT overlayShown();
}

void AiPanel::showFailure(const QString& reason) {
    m_status->setText(reason);
    Q_EMIT failed(reason);
}

void AiPanel::onSliceChanged(int slice) {
    updateTable();
    m_strip->setCurrentSlice(slice);
    if (m_auto->isChecked() && m_show->isChecked() && classification() &&
        (!m_viewport->saliency() || m_viewport->saliency()->slice != slice)) {
        explainNow(false); // the service keeps only the newest request: scrolling stays cheap
    }
}

void AiPanel::updateTable() {
    const std::shared_ptr<const AiClassification> result = classification();
    const std::shared_ptr<const ModelCard> card = m_service->card();
    if (!result || !card) {
        m_table->setRowCount(0);
        m_strip->setValues({});
        m_strip->hide();
        return;
    }
    m_strip->setVisible(result->slices.size() > 1); // one image needs no strip
    const int slice =
        m_viewport && m_viewport->plane() == PlaneKind::Native ? m_viewport->currentSlice() : -1;
    const bool single = result->slices.size() == 1;
    m_table->setHorizontalHeaderLabels({tr("Class"),
                                        single ? tr("Image") : tr("Slice %1").arg(slice + 1),
                                        single ? tr("Study") : tr("Series (max)")});
    m_table->setRowCount(int(card->classNames.size()));
    for (std::size_t c = 0; c < card->classNames.size(); ++c) {
        const auto set = [&](int column, const QString& text) {
            auto* item = new QTableWidgetItem(text);
            if (column > 0) {
                item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            }
            m_table->setItem(int(c), column, item);
        };
        set(0, QString::fromStdString(card->classNames[c]));
        set(1, slice >= 0 && std::size_t(slice) < result->slices.size()
                   ? percent(result->slices[std::size_t(slice)][c])
                   : QStringLiteral("-"));
        set(2, c < result->study.size() ? percent(result->study[c]) : QStringLiteral("-"));
    }
    std::vector<double> strip;
    const std::size_t shown = std::size_t(explainedClass());
    for (const std::vector<double>& p : result->slices) {
        strip.push_back(shown < p.size() ? p[shown] : 0.0);
    }
    m_strip->setValues(std::move(strip));
    m_strip->setCurrentSlice(slice);
}

void AiPanel::applyStyle() {
    if (m_viewport) {
        m_viewport->setSaliencyStyle(SaliencyColours(m_colours->currentData().toInt()),
                                     m_opacity->value() / 100.0, m_threshold->value() / 100.0);
    }
}

} // namespace radiolens
